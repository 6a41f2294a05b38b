"""The console's screens, one module each: they render what the engine view hands them."""

from .failures import FailuresPane
from .files import FilesPane
from .overview import OverviewPane
from .requests import RequestsPane
from .schedules import SchedulesPane

__all__ = ["FailuresPane", "FilesPane", "OverviewPane", "RequestsPane", "SchedulesPane"]
