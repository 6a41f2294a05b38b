"""One engine in the console: its feed (in a worker) and its five panes. Routes the feed's
messages to the panes and carries out the keys' actions against its source."""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import TabbedContent, TabPane

from chute.engine.model import Snapshot

from .feed import EventsArrived, Feed, HistoryArrived, LinkChanged, LinkState, Resync, SnapshotArrived
from .modals import ConfirmScreen, DetailScreen
from .panes import FailuresPane, FilesPane, OverviewPane, RequestsPane, SchedulesPane
from .source import Source, SourceError

TABS = (
    ("overview", "Overview"),
    ("files", "Files"),
    ("failures", "Failures"),
    ("requests", "Requests"),
    ("schedules", "Schedules"),
)


class EngineView(Vertical):
    def __init__(
        self,
        source: Source,
        *,
        readonly: bool = False,
        live: bool = True,
        root: str | None = None,
        feed_options: dict[str, Any] | None = None,
        clock=time.time,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.readonly = readonly
        self.live = live
        self.root = root
        self.clock = clock
        self.link = LinkState("connecting")
        self.snapshot: Snapshot | None = None
        self.paused = False
        self.feed = Feed(source, self.post_message, clock=clock, **(feed_options or {}))
        self._loaded: set[str] = set()

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs", initial="overview"):
            with TabPane("Overview", id="overview"):
                yield OverviewPane(self)
            with TabPane("Files", id="files"):
                yield FilesPane(self)
            with TabPane("Failures", id="failures"):
                yield FailuresPane(self)
            with TabPane("Requests", id="requests"):
                yield RequestsPane(self)
            with TabPane("Schedules", id="schedules"):
                yield SchedulesPane(self)

    def on_mount(self) -> None:
        if self.live:
            self.run_worker(self.feed.run(), group="feed", exclusive=True, exit_on_error=False)
        else:
            self.run_worker(self._load_once(), group="feed", exclusive=True)

    async def _load_once(self) -> None:
        """Scenes and tests: one consistent load, no polling, no clock-driven changes."""
        await self.feed._connect()
        self.post_message(LinkChanged(LinkState("live", updated_at=self.clock())))
        for tab, _ in TABS:
            self._load_tab(tab)

    # --- tabs --------------------------------------------------------------------------------

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    @property
    def active_tab(self) -> str:
        return self.tabs.active or "overview"

    def show_tab(self, tab: str) -> None:
        self.tabs.active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._load_tab(self.active_tab)
        self.refresh_keys()

    def _load_tab(self, tab: str) -> None:
        pane = self.pane(tab)
        if hasattr(pane, "load") and (tab not in self._loaded or tab in ("requests", "schedules")):
            self._loaded.add(tab)
            pane.load()

    def pane(self, tab: str):
        kinds = {
            "overview": OverviewPane,
            "files": FilesPane,
            "failures": FailuresPane,
            "requests": RequestsPane,
            "schedules": SchedulesPane,
        }
        return self.query_one(kinds[tab])

    def refresh_keys(self) -> None:
        self.app.refresh_bindings()

    # --- the feed's messages -----------------------------------------------------------------

    def on_link_changed(self, message: LinkChanged) -> None:
        self.link = message.link

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        if self.paused:
            return
        before = self.snapshot
        self.snapshot = message.snapshot
        self.pane("overview").show_snapshot(message.snapshot)
        self.pane("schedules").show_snapshot(message.snapshot)
        if self.active_tab == "requests":
            self.pane("requests").load()
        if (
            before is not None
            and before.unread_alerts != message.snapshot.unread_alerts
            and ("schedules" in self._loaded)
        ):
            self.pane("schedules").load()

    def on_events_arrived(self, message: EventsArrived) -> None:
        if self.paused:
            return
        self.pane("overview").add_events(message.events)
        if message.backlog:
            return
        if "files" in self._loaded:
            self.pane("files").on_events(message.events)
        if "failures" in self._loaded:
            self.pane("failures").on_events(message.events)

    def on_history_arrived(self, message: HistoryArrived) -> None:
        if not self.paused:
            self.pane("overview").show_history(message.points, message.replace)

    def on_resync(self, message: Resync) -> None:
        for tab in list(self._loaded):
            self.pane(tab).load()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.on_resync(Resync())
            self.run_worker(self._refresh_all(), group="resume", exclusive=True)

    async def _refresh_all(self) -> None:
        snap = await self.call(self.source.snapshot)
        history = await self.call(self.source.history, 60)
        if snap is not None:
            self.on_snapshot_arrived(SnapshotArrived(snap))
        if history is not None:
            self.pane("overview").show_history(history, True)

    # --- actions (called by the app for the current engine) -----------------------------------

    async def call(self, fn, *args, **kwargs):
        """Run a source call; a failure becomes a notification, not a crash."""
        try:
            return await fn(*args, **kwargs)
        except SourceError as exc:
            self.notify(str(exc), title=self.source.name, severity="error", timeout=6)
            return None

    def show_detail(self, file_id: int | None) -> None:
        if file_id is not None:
            self.run_worker(self._detail(file_id), group="detail", exclusive=True)

    async def _detail(self, file_id: int) -> None:
        detail = await self.call(self.source.file, file_id)
        if detail is not None:
            self.app.push_screen(DetailScreen(detail, self.root))

    def can(self, action: str) -> bool | None:
        """Whether an action does something here now (None: it would, but nothing is selected)."""
        if action == "retry":
            table = self.pane("failures").table
            rec = table.records.get(str(table.selected_id()))
            return True if rec is not None and rec.state == "failed" else None
        if action == "retry_all":
            return True if self.pane("failures").failed_ids() else None
        if action == "mark_read":
            alert = self.pane("schedules").selected_alert()
            return True if alert is not None and not alert.read else None
        if action == "detail":
            pane = self.pane(self.active_tab)
            return True if getattr(pane, "table", None) is not None and pane.table.row_count else None
        return True

    def retry_selected(self) -> None:
        fid = self.pane("failures").table.selected_id()
        if fid is not None:
            self.run_worker(self._retry([fid]), group="retry")

    def retry_all(self) -> None:
        ids = self.pane("failures").failed_ids()
        if not ids:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._retry(ids), group="retry")

        self.app.push_screen(ConfirmScreen(f"Retry all {len(ids)} failed files shown?"), answered)

    async def _retry(self, ids: list[int]) -> None:
        result = await self.call(self.source.retry, ids)
        if result is None:
            return
        self.pane("failures").mark_retrying(result.retried)
        skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
        self.notify(f"{len(result.retried)} sent back through the pipeline{skipped}", title="retry")

    def run_job(self, name: str) -> None:
        self.run_worker(self._run_job(name), group=f"job-{name}")

    async def _run_job(self, name: str) -> None:
        result = await self.call(self.source.run_job, name)
        if result is not None:
            self.notify(
                f"{result.get('message', name + ' started')}; its outcome shows in this table",
                title=self.source.name,
            )

    def mark_read(self) -> None:
        alert = self.pane("schedules").selected_alert()
        if alert is not None:
            self.run_worker(self._mark_read(alert.id), group="alerts")

    async def _mark_read(self, alert_id: int) -> None:
        await self.call(self.source.mark_alert_read, alert_id, True)
        self.pane("schedules").load()
