"""The chute console: one EngineView per engine (tabs when attached to several), a header with
the link state, a `:` command line, and the footer, help and command palette all built from
tui/keys.py."""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Input, Tab, Tabs

from . import fmt
from .engine_view import TABS, EngineView
from .feed import LinkChanged
from .header import STYLES, HeaderState, LinkHeader, describe
from .keys import BOUND, for_action
from .messages import RetryRequested
from .modals import DetailScreen, HelpScreen
from .panes import PANES
from .source import Source

COMMANDS_HELP = "file N · failed · kind K · engine NAME · " + " · ".join(p.id for p in PANES)


class CommandLine(Input):
    """`:` commands in the k9s manner: `:file 42`, `:failed`, `:kind csv`, `:engine prod`."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    def action_close(self) -> None:
        self.value = ""
        self.add_class("hidden")
        self.app.view.focus_pane()


class ChuteApp(App):
    CSS_PATH = "chute.tcss"
    TITLE = "chute"
    AUTO_FOCUS = None  # the focus goes into the pane on screen (on_mount), never onto the tab bar
    BINDINGS = [k.binding() for k in BOUND]

    def __init__(
        self,
        sources: list[Source],
        *,
        readonly: bool = False,
        live: bool = True,
        roots: list[str | None] | None = None,
        feed_options: dict[str, Any] | None = None,
        clock=time.time,
        stale_after: float | None = None,
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
        # A long poll answers within its wait: no answer a little after that is a stalled link.
        self.stale_after = (
            stale_after if stale_after is not None else self.feed_options.get("wait", 5.0) + 1.0
        )

    def compose(self) -> ComposeResult:
        # Held by reference: timers and messages arrive while another screen is on top, where a
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
                *[Tab(fmt.plain(s.name), id=f"engine-{i}") for i, s in enumerate(self.sources)], id="engines"
            )
            yield self.engine_tabs
        yield self.switcher
        self.command_line = CommandLine(placeholder=COMMANDS_HELP, id="command-line", classes="hidden")
        yield self.command_line
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_header()
        if self.live:
            self.set_interval(1.0, self.refresh_header)
        self.view.focus_pane()

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
            self.call_after_refresh(self.view.focus_pane)

    def on_link_changed(self, message: LinkChanged) -> None:
        self.refresh_header()
        if len(self.sources) > 1:
            # Each engine's tab carries its own link state, so trouble shows on every tab.
            for i, view in enumerate(self.views):
                word, _, _ = describe(view.link, self.clock(), self.stale_after, view.paused)
                label = Text.assemble(("● ", STYLES.get(word, "")), fmt.safe(view.source.name))
                tab = self.engine_tabs.query_one(f"#engine-{i}", Tab)
                if tab.label != label:
                    tab.label = label

    def refresh_header(self) -> None:
        view = self.view
        self.header.show(
            HeaderState(
                name=view.source.name,
                address=view.source.address,
                link=view.link,
                now=self.clock(),
                stale_after=self.stale_after,
                paused=view.paused,
                engines=len(self.sources),
                unread=view.snapshot.unread_alerts if view.snapshot else 0,
                readonly=self.readonly,
            )
        )

    # --- keys --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A key works where it belongs (its pane, read-only, engine count); there it always does
        something, or says why it cannot."""
        key = for_action(action)
        if key is None:
            return True
        if not key.applies(self.readonly, len(self.sources)):
            return False
        if not isinstance(self.screen, Screen) or self.screen is not self.screen_stack[0]:
            return True
        return key.scope == ("*",) or self.view.active_tab in key.scope

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in BOUND:
            if key.applies(self.readonly, len(self.sources)) and key.key != "ctrl+c":
                yield SystemCommand(key.description, f"key: {key.label}", partial(self.run_key, key.action))

    def run_key(self, action: str) -> None:
        """From the palette: go where the key belongs first, so it acts instead of doing nothing."""
        key = for_action(action)
        if key is not None and key.scope != ("*",) and self.view.active_tab not in key.scope:
            self.view.show_tab(key.scope[0])
        self.call_after_refresh(self.run_action, action)

    def action_show_tab(self, tab: str) -> None:
        self.view.show_tab(tab)

    def action_filter(self) -> None:
        self.view.pane("files").open_filter()

    def action_detail(self) -> None:
        self.view.request_detail()

    def action_retry(self) -> None:
        self.view.request_retry_selected()

    def action_retry_all(self) -> None:
        self.view.request_retry_all()

    def action_run_job(self, name: str) -> None:
        self.view.run_job(name)

    def action_mark_read(self) -> None:
        self.view.mark_read()

    def action_pause(self) -> None:
        self.view.paused = not self.view.paused
        self.refresh_header()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.readonly, len(self.sources)))

    def action_switch_engine(self, step: int) -> None:
        tabs = self.engine_tabs
        ids = [f"engine-{i}" for i in range(len(self.sources))]
        current = ids.index(tabs.active) if tabs.active in ids else 0
        tabs.active = ids[(current + step) % len(ids)]

    def on_retry_requested(self, message: RetryRequested) -> None:
        """A retry asked from a file's detail screen goes to that file's engine."""
        screen = self.screen
        view = screen.view if isinstance(screen, DetailScreen) and screen.view is not None else self.view
        view.post_message(RetryRequested(message.ids, message.confirm))

    # --- the command line --------------------------------------------------------------------

    def action_command(self) -> None:
        self.command_line.remove_class("hidden")
        self.command_line.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.command_line:
            return
        event.stop()
        text = event.value.strip().lstrip(":")
        self.command_line.action_close()
        if text:
            self.run_command(text)

    def run_command(self, text: str) -> None:
        word, _, rest = text.partition(" ")
        word, rest = word.lower(), rest.strip()
        view = self.view
        tabs = {tab for tab, _ in TABS}
        if word in ("file", "f") and rest.lstrip("#").isdigit():
            view.show_detail_by_id(int(rest.lstrip("#")))
        elif word in ("failed", "failures"):
            view.show_tab("failures")
        elif word == "kind" and rest:
            view.show_tab("files")
            view.pane("files").set_filter(f"kind:{rest}")
        elif word == "engine" and rest:
            names = [s.name for s in self.sources]
            if rest not in names:
                self.notify(f"no engine named {rest!r}: {', '.join(names)}", severity="warning", markup=False)
            elif len(self.sources) > 1:
                self.engine_tabs.active = f"engine-{names.index(rest)}"
        elif word in tabs:
            view.show_tab(word)
        elif word in ("q", "quit"):
            self.exit()
        elif word == "help":
            self.action_help()
        else:
            self.notify(f"unknown command {text!r}; try {COMMANDS_HELP}", severity="warning", markup=False)
