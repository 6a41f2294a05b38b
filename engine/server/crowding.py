"""When the connection slots run out, the longest-idle connections make room.

waitress stops accepting at `connection_limit` open connections, so whoever opens that many and
sends nothing locks every probe out until the channel timeout closes them. Instead, close to the
limit, the connections idle longest — nothing being served, nothing parked — are closed to make
room for new ones, a twentieth of the limit at a time. A connection in the middle of a request,
or a long poll waiting for news, is never chosen.
"""

from __future__ import annotations

from typing import Any


def make_room(server: Any, limit: int) -> None:
    """Wrap a waitress server's readable() (asked by its loop before every poll) to evict idle
    connections before its own limit is reached."""
    batch = max(1, limit // 20)
    readable = server.readable

    def readable_with_room() -> bool:
        # The map holds the listener and the trigger besides the connections.
        if len(server._map) >= limit - batch:
            evict(server.active_channels.values(), batch)
        return readable()

    server.readable = readable_with_room


def evict(channels: Any, n: int) -> int:
    """Have n channels closing: mark the longest-idle ones to close (the loop closes them on its
    next turn), counting those already marked; how many it marked."""
    closing = [ch for ch in channels if ch.will_close or ch.close_when_flushed]
    idle = [ch for ch in channels if not ch.requests and not ch.will_close and not ch.close_when_flushed]
    idle.sort(key=lambda ch: ch.last_activity)
    chosen = idle[: max(0, n - len(closing))]
    for ch in chosen:
        ch.will_close = True
    return len(chosen)
