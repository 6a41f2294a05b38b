"""Requests: the request monitor's per-endpoint figures and the most recent requests."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from chute.engine.model import RequestWindow

from .. import fmt


class RequestsPane(Vertical):
    def __init__(self, view, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view

    def compose(self) -> ComposeResult:
        yield Label("endpoints (since start; err% and p95 also for the last 5 min)", classes="section")
        yield DataTable(id="endpoints-table", cursor_type="row", zebra_stripes=True)
        yield Label("recent requests", classes="section")
        yield DataTable(id="recent-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        endpoints = self.query_one("#endpoints-table", DataTable)
        for key, label, width in (
            ("route", "route", 22),
            ("count", "count", 6),
            ("err", "err%", 6),
            ("p50", "p50", 6),
            ("p95", "p95", 6),
            ("p99", "p99", 6),
            ("max", "max", 6),
            ("err5", "5m err%", 7),
            ("p95_5", "5m p95", 6),
            ("exc", "errors", None),
        ):
            endpoints.add_column(label, key=key, width=width)
        recent = self.query_one("#recent-table", DataTable)
        for key, label, width in (
            ("time", "time", 8),
            ("method", "", 4),
            ("path", "path", None),
            ("status", "st", 3),
            ("ms", "took", 7),
            ("error", "error", 14),
        ):
            recent.add_column(label, key=key, width=width)

    def load(self) -> None:
        self.run_worker(self._load(), group="requests-load", exclusive=True)

    async def _load(self) -> None:
        endpoints = await self.view.call(self.view.source.endpoints)
        recent = await self.view.call(self.view.source.recent_requests, 40)
        if endpoints is None or recent is None:
            return
        table = self.query_one("#endpoints-table", DataTable)
        with self.app.batch_update():
            for e in endpoints:
                lat, w5 = e.latency, e.windows.get("5m", RequestWindow())
                exc = ", ".join(f"{k} ({v.count})" for k, v in e.exceptions.items())
                row = [
                    fmt.one_line(e.route, 22),
                    fmt.count(e.count),
                    fmt.percent(e.error_rate),
                    fmt.seconds(lat.p50),
                    fmt.seconds(lat.p95),
                    fmt.seconds(lat.p99),
                    fmt.seconds(lat.max),
                    fmt.percent(w5.error_rate) if w5.count else "—",
                    fmt.seconds(w5.p95),
                    exc,
                ]
                if e.route in table.rows:
                    for col, value in zip(
                        ("route", "count", "err", "p50", "p95", "p99", "max", "err5", "p95_5", "exc"),
                        row,
                        strict=True,
                    ):
                        table.update_cell(e.route, col, value)
                else:
                    table.add_row(*row, key=e.route)
            recent_table = self.query_one("#recent-table", DataTable)
            recent_table.clear()  # a ring of the latest requests: every row is new each time
            for r in recent:
                recent_table.add_row(
                    fmt.clock(r.time),
                    r.method,
                    fmt.one_line(r.path, 60),
                    fmt.status(r.status),
                    fmt.seconds(r.duration),
                    r.error or "",
                )
