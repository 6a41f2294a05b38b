"""A total deadline for one send, on top of the per-read timeouts of smtplib and httpx.

Their timeouts apply to each read, so a server trickling a byte every few seconds can hold a
send for minutes. A Deadline shuts the connection's socket down when the time is up, which ends
any read or write blocked on it at once; the sender then reports the send as timed out.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._socket: Callable[[], socket.socket | None] = lambda: None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def watch(self, find_socket: Callable[[], socket.socket | None]) -> None:
        """Where to find the connection's socket when time is up (it may change, e.g. STARTTLS)."""
        self._socket = find_socket

    def _expire(self) -> None:
        self.expired = True
        sock = self._socket()
        if sock is not None:
            try:
                # The plain socket call, not SSLSocket's: no TLS goodbye to a server that is not
                # listening, just the file descriptor shut so the blocked read returns.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
