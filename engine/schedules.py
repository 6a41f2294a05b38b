"""Schedule specs from the config: "daily 01:00", "monday 09:00", "every 6 hours", "hourly".

Each becomes a When that registers itself with the `schedule` library and can say when the job was
last due (so a run missed while the engine was down runs once at start).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import schedule

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
MAX_INTERVAL = 366 * 86400  # the `schedule` library's dates overflow long before "every 10**11 weeks"
_EVERY = re.compile(r"^every\s+(?:(\d+)\s+)?(second|minute|hour|day|week)s?$")
_AT = re.compile(r"^(daily|" + "|".join(WEEKDAYS) + r")\s+(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class When:
    spec: str
    interval: float | None = None  # seconds, for "every ..."
    weekday: int | None = None  # 0 = monday, for "<weekday> HH:MM"; None with `at` = daily
    at: tuple[int, int] | None = None

    def attach(self, scheduler: schedule.Scheduler, fn) -> schedule.Job:
        if self.interval is not None:
            return scheduler.every(int(self.interval)).seconds.do(fn)
        hh, mm = self.at
        unit = (
            scheduler.every().day
            if self.weekday is None
            else getattr(scheduler.every(), WEEKDAYS[self.weekday])
        )
        return unit.at(f"{hh:02d}:{mm:02d}").do(fn)

    def last_due(self, now: float, last_run: float | None) -> float | None:
        """When a run was due that has not happened since `last_run` (None: nothing missed).

        An "every N" job that never ran is due now; a timed one waits for its time.
        """
        if self.interval is not None:
            if last_run is None:
                return now
            due = last_run + self.interval
            return due if due <= now else None
        if last_run is None:
            return None
        hh, mm = self.at
        current = dt.datetime.fromtimestamp(now)
        occurrence = current.replace(hour=hh, minute=mm, second=0, microsecond=0)
        if self.weekday is None:
            if occurrence > current:
                occurrence -= dt.timedelta(days=1)
        else:
            occurrence -= dt.timedelta(days=(occurrence.weekday() - self.weekday) % 7)
            if occurrence > current:
                occurrence -= dt.timedelta(days=7)
        due = occurrence.timestamp()
        return due if last_run < due else None


def parse_when(spec: str) -> When | None:
    """A When, or None for "" / "never"; ValueError saying what is accepted otherwise."""
    text = " ".join(spec.strip().lower().split())
    if text in ("", "never", "off"):
        return None
    if text == "hourly":
        return When(spec, interval=3600)
    m = _EVERY.match(text)
    if m:
        n = int(m.group(1) or 1)
        if n < 1:
            raise ValueError(f"{spec!r}: the interval must be at least 1")
        if n * UNITS[m.group(2)] > MAX_INTERVAL:
            raise ValueError(f"{spec!r}: the interval must be at most 366 days")
        return When(spec, interval=n * UNITS[m.group(2)])
    m = _AT.match(text)
    if m:
        hh, mm = int(m.group(2)), int(m.group(3))
        if hh > 23 or mm > 59:
            raise ValueError(f"{spec!r}: {hh:02d}:{mm:02d} is not a time of day")
        weekday = None if m.group(1) == "daily" else WEEKDAYS.index(m.group(1))
        return When(spec, weekday=weekday, at=(hh, mm))
    raise ValueError(
        f'{spec!r} is not a schedule: use "daily HH:MM", "<weekday> HH:MM", "every N minutes|hours|days", '
        '"hourly" or "" for never'
    )
