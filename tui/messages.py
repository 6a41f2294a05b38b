"""Messages the console's widgets post upward: a pane asks, the engine view (or the app) acts."""

from __future__ import annotations

from textual.message import Message


class DetailRequested(Message):
    """Open a file's detail screen."""

    def __init__(self, file_id: int) -> None:
        super().__init__()
        self.file_id = file_id


class RetryRequested(Message):
    """Send failed files back through the pipeline (`confirm`: ask first, for several at once)."""

    def __init__(self, ids: list[int], confirm: bool = False) -> None:
        super().__init__()
        self.ids = ids
        self.confirm = confirm


class SourceFailed(Message):
    """A call to the engine failed; the text says why (shown once, not per pane)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error
