"""The console's keys: one table, read by the footer (as bindings), the `?` help screen and the
command palette, so the three can never disagree."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

# Which tab a key belongs to; "*" means everywhere.
ANY = "*"


@dataclass(frozen=True)
class Key:
    key: str  # textual key name
    label: str  # how the key is written for people
    action: str
    description: str
    scope: tuple[str, ...] = (ANY,)
    mutates: bool = False  # removed by --readonly
    footer: bool = True

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.description, show=self.footer, key_display=self.label)


KEYS: tuple[Key, ...] = (
    Key("1", "1", "show_tab('overview')", "Overview", footer=False),
    Key("2", "2", "show_tab('files')", "Files", footer=False),
    Key("3", "3", "show_tab('failures')", "Failures", footer=False),
    Key("4", "4", "show_tab('requests')", "Requests", footer=False),
    Key("5", "5", "show_tab('schedules')", "Schedules", footer=False),
    Key("slash", "/", "filter", "Filter", scope=("files",)),
    Key("enter", "enter", "detail", "Detail", scope=("files", "failures")),
    Key("r", "r", "retry", "Retry", scope=("failures",), mutates=True),
    Key("R", "R", "retry_all", "Retry all shown", scope=("failures",), mutates=True),
    Key("b", "b", "run_job('backup')", "Backup now", scope=("schedules",), mutates=True),
    Key("o", "o", "run_job('report')", "Report now", scope=("schedules",), mutates=True),
    Key("m", "m", "mark_read", "Mark read", scope=("schedules",), mutates=True),
    Key("left_square_bracket", "[", "switch_engine(-1)", "Prev engine", footer=False),
    Key("right_square_bracket", "]", "switch_engine(1)", "Next engine", footer=False),
    Key("p", "p", "pause", "Pause"),
    Key("question_mark", "?", "help", "Help"),
    Key("q", "q", "quit", "Quit"),
)

ACTIONS = {k.action.split("(")[0]: k for k in KEYS}


def for_action(action: str) -> Key | None:
    return ACTIONS.get(action)
