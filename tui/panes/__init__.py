"""The console's panes, one module each, and the registry that drives the engine view's tabs,
the number keys and the help: adding a pane here is all it takes."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Pane
from .failures import FailuresPane
from .files import FilesPane
from .overview import OverviewPane
from .requests import RequestsPane
from .schedules import SchedulesPane


@dataclass(frozen=True)
class PaneSpec:
    id: str
    title: str
    widget: type[Pane]
    reload_on_show: bool = False  # figures that change without events: reload each time it is shown
    needs: tuple[str, ...] = ()  # shown only where the source offers one of these (an app has no files)


PANES: tuple[PaneSpec, ...] = (
    PaneSpec("overview", "Overview", OverviewPane),
    PaneSpec("files", "Files", FilesPane, needs=("files",)),
    PaneSpec("failures", "Failures", FailuresPane, needs=("files",)),
    PaneSpec("requests", "Requests", RequestsPane, reload_on_show=True, needs=("requests",)),
    PaneSpec("schedules", "Schedules", SchedulesPane, reload_on_show=True, needs=("schedules", "alerts")),
)

__all__ = [
    "PANES",
    "FailuresPane",
    "FilesPane",
    "OverviewPane",
    "Pane",
    "PaneSpec",
    "RequestsPane",
    "SchedulesPane",
]
