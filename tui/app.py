"""The chute console: one EngineView per engine (tabs when attached to several), a header with
the link state, and the footer, help and command palette all built from tui/keys.py."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Tab, Tabs

from .engine_view import EngineView
from .feed import LinkChanged
from .header import STYLES, LinkHeader, describe
from .keys import KEYS, for_action
from .modals import HelpScreen
from .source import Source


class ChuteApp(App):
    CSS_PATH = "chute.tcss"
    TITLE = "chute"
    BINDINGS = [k.binding() for k in KEYS]

    def __init__(
        self,
        sources: list[Source],
        *,
        readonly: bool = False,
        live: bool = True,
        roots: list[str | None] | None = None,
        feed_options: dict[str, Any] | None = None,
        clock=time.time,
        stale_after: float = 30.0,
    ) -> None:
        super().__init__()
        if not sources:
            raise ValueError("the console needs at least one engine")
        self.sources = sources
        self.readonly = readonly
        self.live = live
        self.roots = roots or [None] * len(sources)
        self.feed_options = feed_options or {}
        self.clock = clock
        self.stale_after = stale_after

    def compose(self) -> ComposeResult:
        # Held by reference: timers and messages arrive while a modal screen is on top, where a
        # query would not find these.
        self.header = LinkHeader(id="header")
        self.views = [
            EngineView(
                source,
                readonly=self.readonly,
                live=self.live,
                root=self.roots[i],
                feed_options=self.feed_options,
                clock=self.clock,
                id=f"engine-view-{i}",
            )
            for i, source in enumerate(self.sources)
        ]
        self.switcher = ContentSwitcher(*self.views, initial="engine-view-0", id="views")
        yield self.header
        if len(self.sources) > 1:
            self.engine_tabs = Tabs(
                *[Tab(s.name, id=f"engine-{i}") for i, s in enumerate(self.sources)], id="engines"
            )
            yield self.engine_tabs
        yield self.switcher
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_header()
        if self.live:
            self.set_interval(1.0, self.refresh_header)

    async def on_unmount(self) -> None:
        for source in self.sources:
            await source.close()

    # --- which engine ------------------------------------------------------------------------

    @property
    def view(self) -> EngineView:
        current = self.switcher.current or "engine-view-0"
        return self.views[int(current.rsplit("-", 1)[-1])]

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tabs.id == "engines" and event.tab is not None:
            index = event.tab.id.split("-")[-1]
            self.switcher.current = f"engine-view-{index}"
            self.refresh_header()
            self.refresh_bindings()

    def on_link_changed(self, message: LinkChanged) -> None:
        self.refresh_header()
        if len(self.sources) > 1:
            # Each engine's tab carries its own link state, so trouble shows on every tab.
            for i, view in enumerate(self.views):
                word, _ = describe(view.link, self.clock(), self.stale_after, view.paused)
                label = Text.assemble(("● ", STYLES.get(word, "")), view.source.name)
                self.engine_tabs.query_one(f"#engine-{i}", Tab).label = label

    def refresh_header(self) -> None:
        view = self.view
        unread = view.snapshot.unread_alerts if view.snapshot else 0
        self.header.show(
            view.source.name,
            view.source.address,
            view.link,
            self.clock(),
            self.stale_after,
            view.paused,
            len(self.sources),
            unread,
        )

    # --- keys --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        key = for_action(action)
        if key is None:
            return True
        if self.readonly and key.mutates:
            return False
        if action == "switch_engine" and len(self.sources) < 2:
            return False
        if key.scope != ("*",) and self.view.active_tab not in key.scope:
            return False
        if isinstance(self.screen, Screen) and self.screen is not self.screen_stack[0]:
            return True
        return self.view.can(action)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in KEYS:
            name = key.action.split("(")[0]
            if self.readonly and key.mutates:
                continue
            if name == "switch_engine" and len(self.sources) < 2:
                continue
            yield SystemCommand(key.description, f"key: {key.label}", partial(self.run_action, key.action))

    def action_show_tab(self, tab: str) -> None:
        self.view.show_tab(tab)

    def action_filter(self) -> None:
        self.view.pane("files").open_filter()

    def action_detail(self) -> None:
        pane = self.view.pane(self.view.active_tab)
        if hasattr(pane, "table"):
            self.view.show_detail(pane.table.selected_id())

    def action_retry(self) -> None:
        self.view.retry_selected()

    def action_retry_all(self) -> None:
        self.view.retry_all()

    def action_run_job(self, name: str) -> None:
        self.view.run_job(name)

    def action_mark_read(self) -> None:
        self.view.mark_read()

    def action_pause(self) -> None:
        self.view.set_paused(not self.view.paused)
        self.refresh_header()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.readonly))

    def action_switch_engine(self, step: int) -> None:
        tabs = self.engine_tabs
        ids = [f"engine-{i}" for i in range(len(self.sources))]
        current = ids.index(tabs.active) if tabs.active in ids else 0
        tabs.active = ids[(current + step) % len(ids)]
