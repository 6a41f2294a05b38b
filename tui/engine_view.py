"""One engine in the console: its feed (in a worker) and its panes (from the pane registry).

Attributes go down, messages come up: the view holds the snapshot, the link and the pause as
reactives, bound down to its panes; the panes post DetailRequested / RetryRequested / SourceFailed
up, and the view carries them out against its source.
"""

from __future__ import annotations

import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import TabbedContent, TabPane

from chute.engine.model import FAILED, Snapshot

from . import fmt
from .feed import (
    EventsArrived,
    Feed,
    HistoryArrived,
    LinkChanged,
    LinkState,
    Resync,
    SnapshotArrived,
    WorkersArrived,
)
from .messages import DetailRequested, RetryRequested, SourceFailed
from .modals import ConfirmScreen, DetailScreen
from .panes import PANES, Pane
from .source import Source, SourceError

TABS = tuple((p.id, p.title) for p in PANES)
RELOAD_ON_SHOW = {p.id for p in PANES if p.reload_on_show}
WANTED_FOR = 0.5  # seconds a pane picked by key is kept against late focus moves


class EngineView(Vertical):
    snapshot: reactive[Snapshot | None] = reactive(None, init=False)
    link: reactive[LinkState] = reactive(LinkState("connecting"), init=False, always_update=True)
    paused: reactive[bool] = reactive(False, init=False)

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
        self.feed = Feed(source, self.post_message, clock=clock, **(feed_options or {}))
        self._loaded: set[str] = set()
        self._panes: dict[str, Pane] = {}
        self._wanted: tuple[str, float] = ("", 0.0)
        self.hidden: set[str] = set()  # panes for what the source does not offer
        self._fitted = False

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs", initial=PANES[0].id):
            for spec in PANES:
                with TabPane(spec.title, id=spec.id):
                    pane = spec.widget(
                        self.source, root=self.root, readonly=self.readonly, id=f"pane-{spec.id}"
                    )
                    self._panes[spec.id] = pane
                    yield pane.data_bind(EngineView.snapshot, EngineView.paused)

    def on_mount(self) -> None:
        if self.live:
            self.run_worker(self.feed.run(), group="feed", exclusive=True, exit_on_error=False)
        else:
            self._load_once()

    @work(group="feed", exclusive=True)
    async def _load_once(self) -> None:
        """Scenes and tests: one consistent load, no polling, no clock-driven changes."""
        try:
            await self.feed._connect()
        except SourceError as exc:
            self.link = LinkState("reconnecting", retry_in=1.0, error=str(exc), reason=exc.reason)
            return
        self.link = LinkState("live", updated_at=self.clock())
        for tab, _ in TABS:
            self._load_tab(tab)

    # --- panes -------------------------------------------------------------------------------

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#tabs", TabbedContent)

    @property
    def active_tab(self) -> str:
        return self.tabs.active or PANES[0].id

    def pane(self, tab: str) -> Any:
        return self._panes[tab]

    def show_tab(self, tab: str) -> None:
        """Show a pane and put the focus in its main table, so arrows and r act there at once."""
        if tab in self.hidden:
            title = dict(TABS)[tab]
            self.notify(f"{self.source.name} is an app, not an engine: it has no {title}", markup=False)
            return
        # Keys typed quickly (5 then 3) can meet a late "focus moved into pane 5" from Textual,
        # which would switch back: for a moment the pane asked for wins.
        self._wanted = (tab, time.monotonic() + WANTED_FOR)
        self.tabs.active = tab
        self._load_tab(tab)
        self.call_after_refresh(self.focus_pane)

    def focus_pane(self) -> None:
        self.pane(self.active_tab).main.focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        wanted, until = self._wanted
        if wanted and wanted != self.active_tab and time.monotonic() < until:
            self.tabs.active = wanted
            self.call_after_refresh(self.focus_pane)
            return
        self._load_tab(self.active_tab)
        self.app.refresh_bindings()

    def _load_tab(self, tab: str) -> None:
        if tab not in self._loaded or tab in RELOAD_ON_SHOW:
            self._loaded.add(tab)
            self.pane(tab).load()

    # --- the feed's messages -----------------------------------------------------------------

    def on_link_changed(self, message: LinkChanged) -> None:
        self.link = message.link  # the message bubbles on to the app, which draws the header

    def _fit_to_source(self) -> None:
        """Once the source knows what the far side offers (after its first snapshot): hide the
        panes it does not have, and turn the overview to HTTP figures for an app."""
        if self._fitted:
            return
        self._fitted = True
        offers = getattr(self.source, "offers", None)
        if offers is None:
            return
        for spec in PANES:
            if spec.needs and not offers.intersection(spec.needs):
                self.hidden.add(spec.id)
                self.tabs.hide_tab(spec.id)
        if getattr(self.source, "kind", "engine") == "app":
            self.pane("overview").show_app()
        if "backups" not in offers and "schedules" not in self.hidden:
            self.pane("schedules").without_backups()

    def on_snapshot_arrived(self, message: SnapshotArrived) -> None:
        self._fit_to_source()
        if not self.paused:
            self.snapshot = message.snapshot

    def on_events_arrived(self, message: EventsArrived) -> None:
        if self.paused:
            return
        self.pane("overview").add_events(message.events)
        if message.backlog:
            return
        for tab in self._loaded:
            self.pane(tab).on_events(message.events)

    def on_workers_arrived(self, message: WorkersArrived) -> None:
        if not self.paused:
            self.pane("overview").show_workers(message.workers)

    def on_history_arrived(self, message: HistoryArrived) -> None:
        if not self.paused:
            self.pane("overview").show_history(message.points, message.replace, now=self.clock())

    def on_resync(self, message: Resync) -> None:
        for tab in list(self._loaded):
            self.pane(tab).load()

    def watch_paused(self, paused: bool) -> None:
        if not paused:
            self.on_resync(Resync())
            self._refresh_all()

    @work(group="resume", exclusive=True)
    async def _refresh_all(self) -> None:
        snap = await self.call(self.source.snapshot)
        history = await self.call(self.source.history, 60)
        if snap is not None:
            self.snapshot = snap
        if history is not None:
            self.pane("overview").show_history(history, True, now=self.clock())

    # --- what the panes ask for --------------------------------------------------------------

    async def call(self, fn, *args, **kwargs):
        """Run a source call; a failure becomes a notification, not a crash."""
        try:
            return await fn(*args, **kwargs)
        except SourceError as exc:
            self.on_source_failed(SourceFailed(str(exc)))
            return None

    def on_source_failed(self, message: SourceFailed) -> None:
        message.stop()
        # The header already says a broken link is broken; other failures are news.
        if self.link.state == "live":
            self.notify(
                fmt.safe(message.error),
                title=fmt.safe(self.source.name),
                severity="error",
                timeout=6,
                markup=False,
            )

    @on(DetailRequested)
    def show_detail(self, message: DetailRequested) -> None:
        message.stop()
        self._detail(message.file_id)

    def show_detail_by_id(self, file_id: int) -> None:
        self._detail(file_id)

    @work(group="detail", exclusive=True)
    async def _detail(self, file_id: int) -> None:
        detail = await self.call(self.source.file, file_id)
        if detail is None:
            self.notify(
                f"#{file_id}: no such file on {fmt.safe(self.source.name)}", severity="warning", markup=False
            )
            return
        self.app.push_screen(DetailScreen(detail, self.root, view=self, readonly=self.readonly))

    @on(RetryRequested)
    def retry(self, message: RetryRequested) -> None:
        message.stop()
        if self.readonly:
            self.notify("read-only: retrying is off", severity="warning", markup=False)
            return
        ids = message.ids
        if not message.confirm:
            self._retry(ids)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._retry(ids)

        self.app.push_screen(ConfirmScreen(f"Retry all {len(ids)} failed files shown?"), answered)

    @work(group="retry")
    async def _retry(self, ids: list[int]) -> None:
        result = await self.call(self.source.retry, ids)
        if result is None:
            return
        for tab in ("files", "failures"):
            for fid in result.retried:
                self.pane(tab).table.set_state(fid, "queued")
        skipped = "; ".join(f"#{fid}: {why}" for fid, why in result.skipped.items())
        done = ", ".join(f"#{i}" for i in result.retried[:5]) + (" …" if len(result.retried) > 5 else "")
        text = (
            f"{len(result.retried)} sent back through the pipeline ({done})"
            if result.retried
            else "nothing retried"
        )
        self.notify(fmt.safe(text + (f"; skipped {skipped}" if skipped else "")), title="retry", markup=False)

    # --- the keys' actions (the app calls these for the engine on screen) ---------------------

    def selected(self):
        """The file record selected in the pane on screen (None where there is no file table)."""
        table = getattr(self.pane(self.active_tab), "table", None)
        return table.selected_record() if table is not None else None

    def request_retry_selected(self) -> None:
        rec = self.selected()
        if rec is None:
            self.notify(
                "no file selected: pick a failed file in Files or Failures", severity="warning", markup=False
            )
        elif rec.state != FAILED:
            self.notify(
                f"#{rec.id} is {rec.state}, not failed: nothing to retry", severity="warning", markup=False
            )
        else:
            self.post_message(RetryRequested([rec.id]))

    def request_retry_all(self) -> None:
        ids = self.pane(self.active_tab).failed_ids()
        if not ids:
            self.notify("no failed file shown here: nothing to retry", severity="warning", markup=False)
        else:
            self.post_message(RetryRequested(ids, confirm=True))

    def request_detail(self) -> None:
        rec = self.selected()
        if rec is None:
            self.notify("no file selected", severity="warning", markup=False)
        else:
            self.post_message(DetailRequested(rec.id))

    @work(group="jobs")
    async def run_job(self, name: str) -> None:
        result = await self.call(self.source.run_job, name)
        if result is not None:
            self.notify(
                fmt.safe(f"{result.get('message', name + ' started')}; its outcome shows in Schedules"),
                title=fmt.safe(self.source.name),
                markup=False,
            )

    def mark_read(self) -> None:
        alert = self.pane("schedules").selected_alert()
        if alert is None:
            self.notify("no alert selected", severity="warning", markup=False)
        elif alert.read:
            self.notify("that alert is already read", markup=False)
        else:
            self._mark_read(alert.id)

    @work(group="alerts")
    async def _mark_read(self, alert_id: int) -> None:
        await self.call(self.source.mark_alert_read, alert_id, True)
        self.pane("schedules").load()
