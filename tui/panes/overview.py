"""Overview: counts by state and kind, rates, queue, three sparklines with their current values,
and the most recent events."""

from __future__ import annotations

from collections import deque

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, RichLog, Sparkline, Static

from chute.engine.model import Event, MinutePoint, Snapshot

from .. import fmt

SHOWN_STATES = ("done", "failed", "queued", "retrying", "duplicate", "vanished")
EVENT_STYLE = {
    "failed": "red",
    "done": "green",
    "retry_requested": "yellow",
    "skipped": "yellow",
    "vanished": "dim",
    "job_failed": "bold red",
    "recovered": "cyan",
}


class Spark(Horizontal):
    """A labelled sparkline with its latest value beside it."""

    def __init__(self, label: str, **kwargs) -> None:
        super().__init__(classes="spark-row", **kwargs)
        self.label = label

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="spark-label")
        yield Sparkline([], summary_function=max)
        yield Label("—", classes="spark-value")

    def show(self, values: list[float], current: str) -> None:
        self.query_one(Sparkline).data = values or [0.0]
        self.query_one(".spark-value", Label).update(current)


class OverviewPane(Vertical):
    def __init__(self, view, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view
        self.points: dict[float, MinutePoint] = {}
        self._seen_events: deque[int] = deque(maxlen=200)

    def compose(self) -> ComposeResult:
        with Horizontal(id="overview-top"):
            yield Static(id="overview-counts", classes="box")
            yield Static(id="overview-now", classes="box")
        yield Spark("processing p95", id="spark-latency")
        yield Spark("files / min", id="spark-throughput")
        yield Spark("HTTP p95", id="spark-http")
        yield RichLog(id="overview-events", max_lines=200, markup=False, wrap=False)

    def show_snapshot(self, snap: Snapshot) -> None:
        counts = Table.grid(padding=(0, 2))
        counts.add_column(no_wrap=True)
        counts.add_column(justify="right")
        counts.add_column(no_wrap=True)
        counts.add_column(justify="right")
        cells = [(fmt.state(s), fmt.count(snap.counts.get(s, 0))) for s in SHOWN_STATES]
        for left, right in zip(cells[0::2], cells[1::2], strict=True):
            counts.add_row(*left, *right)
        kinds = "  ".join(f"{k} {fmt.count(sum(v.values()))}" for k, v in sorted(snap.kinds.items()))
        self.query_one("#overview-counts", Static).update(
            _titled(
                "files", counts, Text(kinds or "no files yet", style="dim", overflow="ellipsis", no_wrap=True)
            )
        )
        now = Table.grid(padding=(0, 2))
        now.add_column(no_wrap=True)
        now.add_column(justify="right")
        now.add_row("files / min", fmt.count(snap.rate_per_min))
        now.add_row("queue", fmt.count(snap.queue_depth + snap.in_flight))
        now.add_row("latency p95", fmt.seconds(snap.latency.p95))
        now.add_row("up", fmt.age(snap.uptime))
        self.query_one("#overview-now", Static).update(_titled("now", now))

    def show_history(self, points: list[MinutePoint], replace: bool) -> None:
        if replace:
            self.points = {}
        for p in points:
            self.points[p.minute] = p
        series = [self.points[k] for k in sorted(self.points)][-60:]
        self.points = {p.minute: p for p in series}
        last = series[-1] if series else None
        self.query_one("#spark-latency", Spark).show(
            [p.processing_p95 or 0.0 for p in series], fmt.seconds(last.processing_p95 if last else None)
        )
        self.query_one("#spark-throughput", Spark).show(
            [float(p.files) for p in series], f"{last.files if last else 0}/min"
        )
        self.query_one("#spark-http", Spark).show(
            [p.http_p95 or 0.0 for p in series], fmt.seconds(last.http_p95 if last else None)
        )

    def add_events(self, events: list[Event]) -> None:
        log = self.query_one(RichLog)
        for e in events[-60:]:
            if e.id in self._seen_events:
                continue
            self._seen_events.append(e.id)
            line = Text.assemble(
                (fmt.clock(e.ts) + " ", "dim"),
                (f"{e.type:<15} ", EVENT_STYLE.get(e.type, "")),
                fmt.one_line(e.message.replace("\n", "⏎"), 200),
            )
            log.write(line)


def _titled(title: str, *parts) -> Table:
    outer = Table.grid()
    outer.add_column()
    outer.add_row(Text(title, style="bold"))
    for part in parts:
        outer.add_row(part)
    return outer
