"""The API's bounds, shared by the handlers that enforce them and the document that states them."""

MAX_LIMIT = 1000  # page size of every list
MAX_WAIT = 30.0  # seconds an events long poll may wait
MAX_IDS = 10_000  # ids in one retry request
MAX_ID = 2**62  # file, alert and event ids, and cursors
MAX_MINUTES = 1440  # history
MAX_BODY = 1 << 20  # request bodies are small JSON; larger ones are refused unread
MAX_UPLOAD = 1 << 30  # a cluster worker's outputs of one file (only an engine with a broker takes them)
