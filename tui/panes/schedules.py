"""Schedules & alerts: each job's last and next run, keys to run one now, and the alert centre."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from chute.engine.model import Alert, Snapshot

from .. import fmt

SEVERITY = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


class SchedulesPane(Vertical):
    def __init__(self, view, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view
        self.alerts: dict[str, Alert] = {}

    def compose(self) -> ComposeResult:
        yield Label("schedules", classes="section")
        yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
        yield Label("alerts", id="alerts-label", classes="section")
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        jobs = self.query_one("#jobs-table", DataTable)
        for key, label, width in (
            ("job", "job", 10),
            ("when", "when", 16),
            ("last", "last run", 11),
            ("outcome", "outcome", 8),
            ("took", "took", 6),
            ("next", "next run", 11),
            ("note", "note", None),
        ):
            jobs.add_column(label, key=key, width=width)
        alerts = self.query_one("#alerts-table", DataTable)
        for key, label, width in (
            ("time", "time", 11),
            ("sev", "level", 8),
            ("title", "alert", None),
            ("count", "n", 4),
            ("read", "", 6),
        ):
            alerts.add_column(label, key=key, width=width)

    def show_snapshot(self, snap: Snapshot) -> None:
        jobs = self.query_one("#jobs-table", DataTable)
        with self.app.batch_update():
            for job in snap.schedules:
                outcome = job.last_outcome or "—"
                row = [
                    job.name,
                    job.when,
                    fmt.day_clock(job.last_run),
                    Text(
                        outcome,
                        style="green" if outcome == "ok" else "bold red" if outcome == "failed" else "",
                    ),
                    fmt.seconds(job.last_duration),
                    fmt.day_clock(job.next_run),
                    fmt.one_line(job.last_message, 60),
                ]
                if job.name in jobs.rows:
                    for col, value in zip(
                        ("job", "when", "last", "outcome", "took", "next", "note"), row, strict=True
                    ):
                        jobs.update_cell(job.name, col, value)
                else:
                    jobs.add_row(*row, key=job.name)

    def load(self) -> None:
        self.run_worker(self._load(), group="alerts-load", exclusive=True)

    async def _load(self) -> None:
        result = await self.view.call(self.view.source.alerts, 200)
        if result is None:
            return
        alerts, unread = result
        self.query_one("#alerts-label", Label).update(f"alerts — {unread} unread")
        table = self.query_one("#alerts-table", DataTable)
        with self.app.batch_update():
            for a in alerts:
                key = str(a.id)
                self.alerts[key] = a
                read = Text("read", style="dim") if a.read else Text("unread", style="bold")
                row = [
                    fmt.day_clock(a.ts),
                    Text(a.severity, style=SEVERITY.get(a.severity, "")),
                    fmt.one_line(a.title, 80),
                    str(a.count),
                    read,
                ]
                if key in table.rows:
                    table.update_cell(key, "read", read)
                    table.update_cell(key, "count", str(a.count))
                else:
                    table.add_row(*row, key=key)
            table.sort("time", key=lambda v: str(v), reverse=True)

    def selected_alert(self) -> Alert | None:
        table = self.query_one("#alerts-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.alerts.get(key)
