"""Requests: the request monitor's per-endpoint figures and the most recent requests.

The engine's own API (`/api/v1/...`, or a monitored app's `/monitoring/chute/...`) is left out:
most of its traffic is consoles like this one polling, which says nothing about the application
being watched."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.widgets import Label

from chute.engine.model import API_PREFIX, EndpointStats, RequestRecord, RequestWindow

from .. import fmt
from ..source import APP_ROOT
from .base import Pane
from .table import Col, KeyedTable

ENDPOINT_COLUMNS = (
    Col("route", "route", 12, 30),
    Col("count", "count", 5, 9, numeric=True),
    Col("err", "err%", 6, 6),
    Col("p95", "p95", 6, 6),
    Col("err5", "5m err%", 7, 7),
    Col("p95_5", "5m p95", 6, 6),
    Col("exc", "errors", 6),
)
RECENT_COLUMNS = (
    Col("time", "time", 8, 8),
    Col("method", "", 3, 6),
    Col("path", "path", 10),
    Col("status", "st", 3, 3, numeric=True),
    Col("ms", "took", 5, 7),
    Col("error", "error", 5, 16),
)


def is_own_api(route: str) -> bool:
    return route.startswith((API_PREFIX, APP_ROOT + "/"))


class RequestsPane(Pane):
    def compose(self) -> ComposeResult:
        yield Label(
            "endpoints (since start; err% and p95 also for the last 5 min)",
            id="endpoints-label",
            classes="section",
        )
        yield KeyedTable(ENDPOINT_COLUMNS, default_sort=("count", True), id="endpoints-table")
        yield Label("recent requests", classes="section")
        yield KeyedTable(RECENT_COLUMNS, default_sort=("time", True), id="recent-table")

    @property
    def main(self) -> KeyedTable:
        return self.query_one("#endpoints-table", KeyedTable)

    @work(group="requests-load", exclusive=True)
    async def load(self) -> None:
        endpoints = await self.fetch(self.source.endpoints)
        recent = await self.fetch(self.source.recent_requests, 60)
        if endpoints is None or recent is None:
            return
        own = sum(e.count for e in endpoints if is_own_api(e.route))
        shown = [e for e in endpoints if not is_own_api(e.route)]
        self.query_one("#endpoints-label", Label).update(
            fmt.plain(
                f"endpoints since start · 5m: the last 5 min · {own:,} calls to this engine's API left out"
            )
        )
        self.main.set_rows(((e.route, _endpoint_row(e)) for e in shown), prune=True)
        table = self.query_one("#recent-table", KeyedTable)
        rows = [r for r in recent if not is_own_api(r.route or "")][:40]
        table.clear_rows()  # a ring of the latest requests: every row is new each time
        table.set_rows((str(i), _recent_row(r)) for i, r in enumerate(rows))


def _endpoint_row(e: EndpointStats) -> list[object]:
    w5 = e.windows.get("5m", RequestWindow())
    exc = ", ".join(f"{k} ({v.count})" for k, v in e.exceptions.items())
    return [
        fmt.plain(e.route),
        fmt.count(e.count),
        fmt.percent(e.error_rate),
        fmt.seconds(e.latency.p95),
        fmt.percent(w5.error_rate) if w5.count else "—",
        fmt.seconds(w5.p95),
        fmt.plain(exc),
    ]


def _recent_row(r: RequestRecord) -> list[object]:
    return [
        fmt.clock(r.time),
        r.method,
        fmt.plain(r.path),
        fmt.status(r.status),
        fmt.seconds(r.duration),
        fmt.plain(r.error),
    ]
