"""Fold a flood of identical warnings into one line per interval.

Under load waitress warns "Task queue depth is N" for every request that has to queue: tens of
thousands of lines a minute that say one thing. The filter lets the first through, drops the rest
for `every` seconds, and notes on the next one that gets through how many it folded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

# The logger waitress's task dispatcher warns on.
WAITRESS_QUEUE = "waitress.queue"


class FoldRepeats(logging.Filter):
    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self._clock = clock
        self._lock = threading.Lock()
        self._open_at = float("-inf")
        self._folded = 0
        self._total = 0

    @property
    def folded(self) -> int:
        """Records dropped since this filter was made."""
        with self._lock:
            return self._total

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = self._clock()
            if now < self._open_at:
                self._folded += 1
                self._total += 1
                return False
            self._open_at = now + self.every
            folded, self._folded = self._folded, 0
        if folded:
            record.msg = f"{record.msg} (and {folded} like it folded since the last one)"
        return True


def fold(logger_name: str, every: float = 60.0) -> FoldRepeats:
    """Install (once) a FoldRepeats on a logger; returns the one in place."""
    logger = logging.getLogger(logger_name)
    for existing in logger.filters:
        if isinstance(existing, FoldRepeats):
            return existing
    folder = FoldRepeats(every)
    logger.addFilter(folder)
    return folder
