"""Overview: counts by state and kind, the figures of the moment, three sparklines over the last
hour, and the most recent events. On a monitored Flask app (no files): its HTTP figures of the
last minute, its health, and HTTP latency and error sparklines.

One definition per number, said on screen: `in queue` is every file not yet final (queued,
retrying, placing); `latency` is close-of-write (arrival) to placed for the current attempt;
`finished, last 60 s` counts files that reached a final state in the last 60 seconds; sparklines
have one bar per complete minute (the current, partial minute is left out) and show their maximum.
With a broker, a Workers table lists the cluster's workers by their heartbeats; without one it is
not there at all.
"""

from __future__ import annotations

import time
from collections import deque

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, RichLog, Sparkline, Static

from chute.engine.model import ACTIVE_STATES, Event, Health, MinutePoint, Snapshot, WorkerInfo

from .. import fmt
from .base import Pane
from .table import Col, KeyedTable

SHOWN_STATES = ("done", "failed", "duplicate", "vanished")
EVENT_STYLE = {
    "failed": "red",
    "done": "green",
    "retry_requested": "yellow",
    "skipped": "yellow",
    "vanished": "dim",
    "job_failed": "bold red",
    "recovered": "cyan",
}
WINDOW = 60  # minutes of sparkline
WORKER_COLUMNS = (
    Col("host", "host", 8, 24),
    Col("pid", "pid", 3, 8, numeric=True),
    Col("in_flight", "in flight", 9, 9, numeric=True),
    Col("done", "done", 4, 9, numeric=True),
    Col("failed", "failed", 6, 9, numeric=True),
    Col("seen", "last seen", 9),
)
HEALTH_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red"}


class Spark(Horizontal):
    """A titled sparkline with its maximum and its latest complete minute beside it."""

    def __init__(self, title: str, **kwargs) -> None:
        super().__init__(classes="spark-row", **kwargs)
        self.title = title

    def compose(self) -> ComposeResult:
        yield Label(self.title, classes="spark-label")
        yield Sparkline([], summary_function=max)
        yield Label("—", classes="spark-value")

    def show(self, values: list[float | None], show) -> None:
        known = [v for v in values if v is not None]
        self.query_one(Sparkline).data = [v or 0.0 for v in values] or [0.0]
        last = values[-1] if values else None
        peak = max(known) if known else None
        self.query_one(".spark-value", Label).update(f"{show(last)} · max {show(peak)}")


class OverviewPane(Pane):
    def __init__(self, source, **kwargs) -> None:
        super().__init__(source, **kwargs)
        self.points: dict[float, MinutePoint] = {}
        self._seen_events: deque[int] = deque(maxlen=200)
        self._drawn: tuple | None = None
        self._lines: deque[Text] = deque(maxlen=200)
        self.app_mode = False
        self.health: Health | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="overview-top"):
            yield Static(
                "waiting for the engine: the header says how the link is", id="overview-counts", classes="box"
            )
            yield Static(id="overview-now", classes="box")
        yield Label(f"last {WINDOW} min, a bar per minute · last full minute, max", classes="section")
        yield Spark("files/min", id="spark-throughput")
        yield Spark("latency p95", id="spark-latency")
        yield Spark("HTTP p95", id="spark-http")
        errors = Spark("HTTP errors", id="spark-http-errors")
        errors.display = False  # an app's; an engine's overview keeps its three
        yield errors
        with Vertical(id="overview-workers"):
            yield Label("workers (by their heartbeats)", classes="section")
            yield KeyedTable(WORKER_COLUMNS, id="workers-table")
        # wrap=True lets each line's own no_wrap + ellipsis apply: cut with … instead of scrolling sideways
        yield RichLog(id="overview-events", max_lines=200, markup=False, wrap=True, min_width=20)

    @property
    def main(self) -> RichLog:
        return self.query_one(RichLog)

    def show_app(self) -> None:
        """The far side is a Flask app: HTTP figures and health instead of files."""
        self.app_mode = True
        for wid in ("#overview-counts", "#spark-throughput", "#spark-latency"):
            self.query_one(wid).display = False
        self.query_one("#spark-http-errors").display = True

    def watch_snapshot(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        if self.app_mode:
            self._load_health()
            self._show_app_now()
            return
        counts = tuple((s, snap.counts.get(s, 0)) for s in SHOWN_STATES)
        kinds = "  ".join(f"{k} {fmt.count(sum(v.values()))}" for k, v in sorted(snap.kinds.items()))
        figures = (
            ("in queue", fmt.count(sum(snap.counts.get(s, 0) for s in ACTIVE_STATES))),
            ("finished, last 60 s", fmt.count(snap.rate_per_min)),
            (f"latency p95, last {snap.latency.count:,}", fmt.seconds(snap.latency.p95)),
            ("up", fmt.age(snap.uptime)),
        )
        # An idle engine sends the same figures every few seconds: draw only what changed.
        if (counts, kinds, figures) == self._drawn:
            return
        self._drawn = (counts, kinds, figures)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right")
        grid.add_column(no_wrap=True)
        grid.add_column(justify="right")
        cells = [(fmt.state(s), fmt.count(n)) for s, n in counts]
        for left, right in zip(cells[0::2], cells[1::2], strict=True):
            grid.add_row(*left, *right)
        self.query_one("#overview-counts", Static).update(
            _titled("files", grid, fmt.plain(kinds or "no files yet", style="dim"))
        )
        now = Table.grid(padding=(0, 2))
        now.add_column(no_wrap=True)
        now.add_column(justify="right", no_wrap=True)
        for label, value in figures:
            now.add_row(label, value)
        self.query_one("#overview-now", Static).update(_titled("now", now))

    def show_workers(self, workers: list[WorkerInfo]) -> None:
        """The cluster's workers, one row each by name; the table shows only when there are some."""
        box = self.query_one("#overview-workers")
        box.display = bool(workers)
        if not workers:
            return
        rows = [
            (
                w.name,
                (
                    fmt.plain(w.host),
                    fmt.count(w.pid),
                    fmt.count(w.in_flight),
                    fmt.count(w.done),
                    fmt.plain(fmt.count(w.failed), style="red" if w.failed else ""),
                    fmt.plain(
                        fmt.clock(w.last_seen) + ("" if w.alive else " (lost)"),
                        style="" if w.alive else "red",
                    ),
                ),
            )
            for w in workers
        ]
        self.query_one("#workers-table", KeyedTable).set_rows(rows, prune=True)

    def show_history(self, points: list[MinutePoint], replace: bool, now: float | None = None) -> None:
        if replace:
            self.points = {}
        for p in points:
            self.points[p.minute] = p
        current = (now if now is not None else time.time()) // 60 * 60
        series = [self.points[k] for k in sorted(self.points) if k < current][-WINDOW:]
        self.points = {p.minute: p for p in series}
        self.query_one("#spark-throughput", Spark).show([float(p.files) for p in series], fmt.count)
        self.query_one("#spark-latency", Spark).show([p.latency_p95 for p in series], fmt.seconds)
        self.query_one("#spark-http", Spark).show([p.http_p95 for p in series], fmt.seconds)
        self.query_one("#spark-http-errors", Spark).show([float(p.http_errors) for p in series], fmt.count)
        if self.app_mode:
            self._show_app_now()

    @work(group="overview-health", exclusive=True)
    async def _load_health(self) -> None:
        health = await self.fetch(self.source.health)
        if health is not None:
            self.health = health
            self._show_app_now()

    def _show_app_now(self) -> None:
        last = self.points[max(self.points)] if self.points else None
        now = Table.grid(padding=(0, 2))
        now.add_column(no_wrap=True)
        now.add_column(justify="right", no_wrap=True)
        status = self.health.status if self.health is not None else "—"
        bad = [
            k for k, v in (self.health.checks if self.health else {}).items() if v[0].get("status") != "pass"
        ]
        health = Text(status, style=HEALTH_STYLE.get(status, ""))
        if bad:
            health.append(" · " + ", ".join(bad), style="dim")
        now.add_row("health", health)
        now.add_row("requests, last full minute", fmt.count(last.http_requests if last else 0))
        now.add_row("errors, last full minute", fmt.count(last.http_errors if last else 0))
        now.add_row("HTTP p95, last full minute", fmt.seconds(last.http_p95 if last else None))
        if self.snapshot is not None:
            now.add_row("up", fmt.age(self.snapshot.uptime))
        self.query_one("#overview-now", Static).update(_titled("HTTP", now))

    def add_events(self, events: list[Event]) -> None:
        fresh = []
        for e in events[-60:]:
            if e.id in self._seen_events:
                continue
            self._seen_events.append(e.id)
            fresh.append(
                Text.assemble(
                    (fmt.clock(e.ts) + " ", "dim"),
                    (f"{e.type:<15} ", EVENT_STYLE.get(e.type, "")),
                    fmt.one_line(e.message, 200),
                    no_wrap=True,
                    overflow="ellipsis",
                )
            )
        self._lines.extend(fresh)
        log = self.query_one(RichLog)
        if log.size.width:  # a hidden log would cut lines to nothing: they are drawn when shown
            for line in fresh:
                log.write(line)

    def on_resize(self) -> None:
        """Shown again or resized: lines are cut to the width they are drawn at, so redraw them."""
        log = self.query_one(RichLog)
        if log.size.width:
            log.clear()
            for line in self._lines:
                log.write(line)


def _titled(title: str, *parts) -> Table:
    outer = Table.grid()
    outer.add_column()
    outer.add_row(Text(title, style="bold"))
    for part in parts:
        outer.add_row(part)
    return outer
