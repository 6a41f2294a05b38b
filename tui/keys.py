"""The console's keys: one table, read by the footer (as bindings), the `?` help screen and the
command palette, so the three can never disagree. The number keys come from the pane registry."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from .panes import PANES

# Which pane a key belongs to; "*" means everywhere.
ANY = "*"
TABLES = ("files", "failures", "requests", "schedules")


@dataclass(frozen=True)
class Key:
    key: str  # textual key name(s)
    label: str  # how the key is written for people
    action: str  # an app action; "" for keys a widget handles itself (listed in the help only)
    description: str
    scope: tuple[str, ...] = (ANY,)
    mutates: bool = False  # removed by --readonly
    footer: bool = True
    engines: int = 1  # shown only with at least this many engines

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.footer,
            key_display=self.label,
            priority=self.key == "ctrl+c",
        )

    def applies(self, readonly: bool, engines: int) -> bool:
        return not (readonly and self.mutates) and engines >= self.engines


KEYS: tuple[Key, ...] = (
    *(Key(str(i), str(i), f"show_tab('{p.id}')", p.title, footer=False) for i, p in enumerate(PANES, 1)),
    Key("slash", "/", "filter", "Filter", scope=("files",)),
    Key("enter", "enter", "detail", "Detail", scope=("files", "failures")),
    Key("r", "r", "retry", "Retry", scope=("files", "failures"), mutates=True),
    Key("R", "R", "retry_all", "Retry all shown", scope=("files", "failures"), mutates=True),
    Key("b", "b", "run_job('backup')", "Backup now", scope=("schedules",), mutates=True),
    Key("o", "o", "run_job('report')", "Report now", scope=("schedules",), mutates=True),
    Key("m", "m", "mark_read", "Mark read", scope=("schedules",), mutates=True),
    Key("", "↑↓ j k", "", "Move the selection", scope=TABLES, footer=False),
    Key("", "g G home end", "", "First / last row", scope=TABLES, footer=False),
    Key("", "pgup pgdn", "", "A page up / down", scope=TABLES, footer=False),
    Key("", "s", "", "Sort: next column, then reversed", scope=TABLES, footer=False),
    Key("", "esc", "", "Clear the filter", scope=("files",), footer=False),
    Key("colon", ":", "command", "Command line", footer=False),
    Key("left_square_bracket", "[", "switch_engine(-1)", "Prev engine", footer=False, engines=2),
    Key("right_square_bracket", "]", "switch_engine(1)", "Next engine", footer=False, engines=2),
    Key("p", "p", "pause", "Pause"),
    Key("question_mark", "?", "help", "Help"),
    Key("q", "q", "quit", "Quit"),
    Key("ctrl+c", "ctrl+c", "quit", "Quit", footer=False),
)

BOUND = tuple(k for k in KEYS if k.action)
ACTIONS = {k.action.split("(")[0]: k for k in BOUND}


def for_action(action: str) -> Key | None:
    return ACTIONS.get(action)
