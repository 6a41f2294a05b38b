"""Schedules & alerts: each job's last and next run, keys to run one now, and the alert centre."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.widgets import Label

from chute.engine.model import Alert, Snapshot

from .. import fmt
from .base import Pane
from .table import Col, KeyedTable

SEVERITY = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
OUTCOME = {"ok": "green", "failed": "bold red"}

JOB_COLUMNS = (
    Col("job", "job", 9, 10),
    Col("when", "when", 11, 16),
    Col("last", "last run", 11, 11),
    Col("outcome", "outcome", 7, 8),
    Col("took", "took", 6, 6),
    Col("next", "next run", 11, 11),
    Col("note", "note", 8),
)
ALERT_COLUMNS = (
    Col("time", "time", 11, 11),
    Col("sev", "level", 5, 8),
    Col("title", "alert", 12),
    Col("count", "n", 2, 5, numeric=True),
    Col("read", "", 6, 6),
)


class SchedulesPane(Pane):
    def __init__(self, source, **kwargs) -> None:
        super().__init__(source, **kwargs)
        self.alerts: dict[str, Alert] = {}
        self._unread: int | None = None

    def compose(self) -> ComposeResult:
        yield Label("schedules (b backup now · o report now)", id="jobs-label", classes="section")
        yield KeyedTable(JOB_COLUMNS, id="jobs-table")
        yield Label("alerts", id="alerts-label", classes="section")
        yield KeyedTable(ALERT_COLUMNS, default_sort=("time", True), id="alerts-table")

    def on_mount(self) -> None:
        if self.readonly:
            self.query_one("#jobs-label", Label).update("schedules")

    def without_backups(self) -> None:
        """A monitored app: its report is its one job."""
        if not self.readonly:
            self.query_one("#jobs-label", Label).update("schedules (o report now)")

    @property
    def main(self) -> KeyedTable:
        return self.query_one("#alerts-table", KeyedTable)

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        rows = []
        for job in snap.schedules:
            outcome = job.last_outcome or "—"
            rows.append(
                (
                    job.name,
                    [
                        fmt.plain(job.name),
                        fmt.plain(job.when),
                        fmt.day_clock(job.last_run),
                        Text(outcome, style=OUTCOME.get(outcome, "")),
                        fmt.seconds(job.last_duration),
                        fmt.day_clock(job.next_run),
                        fmt.plain(fmt.one_line(job.last_message, 200)),
                    ],
                )
            )
        self.query_one("#jobs-table", KeyedTable).set_rows(rows)
        if self._unread is not None and snap.unread_alerts != self._unread:
            self.load()
        self._unread = snap.unread_alerts

    @work(group="alerts-load", exclusive=True)
    async def load(self) -> None:
        result = await self.fetch(self.source.alerts, 200)
        if result is None:
            return
        alerts, unread = result
        self.query_one("#alerts-label", Label).update(
            f"alerts — {unread} unread" + ("" if self.readonly else " (m marks the selected one read)")
        )
        rows = []
        for a in alerts:
            self.alerts[str(a.id)] = a
            rows.append(
                (
                    str(a.id),
                    [
                        fmt.day_clock(a.ts),
                        Text(a.severity, style=SEVERITY.get(a.severity, "")),
                        fmt.plain(fmt.one_line(a.title, 200)),
                        str(a.count),
                        Text("read", style="dim") if a.read else Text("unread", style="bold"),
                    ],
                )
            )
        self.main.set_rows(rows)

    def selected_alert(self) -> Alert | None:
        key = self.main.selected_key()
        return self.alerts.get(key) if key is not None else None
