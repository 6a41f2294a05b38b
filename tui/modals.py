"""Modal screens: a file's detail, a yes/no confirmation, and the key help (from the key table)."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from chute.engine.model import FileDetail

from . import fmt
from .keys import KEYS


class DetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, detail: FileDetail, root: str | None) -> None:
        super().__init__()
        self.detail = detail
        self.root = root

    def compose(self) -> ComposeResult:
        f = self.detail.file
        with Vertical(id="detail-box", classes="modal-box"):
            yield Label(
                Text.assemble(
                    (f"#{f.id} ", "bold"), (f.name.replace("\n", "⏎"), "bold"), "  ", fmt.state(f.state)
                ),
                id="detail-title",
            )
            with VerticalScroll(id="detail-body"):
                facts = Table.grid(padding=(0, 2))
                facts.add_column(style="dim", no_wrap=True)
                facts.add_column()
                for label, value in (
                    ("kind", f.kind or "—"),
                    ("size", fmt.size(f.size)),
                    ("sha256", f.sha256 or "—"),
                    ("arrived", fmt.day_clock(f.arrived_at)),
                    ("finished", fmt.day_clock(f.finished_at)),
                    ("took", f"{fmt.seconds(f.duration)} processing, {fmt.seconds(f.latency)} end to end"),
                    ("attempts", str(f.attempts)),
                    ("where", fmt.where(f.dest, self.root)),
                ):
                    facts.add_row(label, value)
                if f.reason:
                    facts.add_row("error", Text(f"{f.error_kind}: {f.reason}", style="red"))
                yield Static(facts)
                if self.detail.meta:
                    yield Label("found", classes="section")
                    yield Static(Text(json.dumps(self.detail.meta, indent=2, ensure_ascii=False)[:4000]))
                if self.detail.attempts:
                    yield Label("attempts", classes="section")
                    attempts = Table.grid(padding=(0, 2))
                    for a in self.detail.attempts:
                        attempts.add_row(
                            str(a.n),
                            fmt.day_clock(a.started_at),
                            fmt.state(a.outcome),
                            fmt.seconds(a.duration),
                            a.reason or "",
                        )
                    yield Static(attempts)
                yield Label("timeline", classes="section")
                timeline = Table.grid(padding=(0, 2))
                for e in self.detail.events:
                    timeline.add_row(fmt.day_clock(e.ts), e.type, fmt.one_line(e.message, 100))
                yield Static(timeline)
            yield Label("esc closes", classes="hint")


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="modal-box"):
            yield Label(self.question, id="confirm-question")
            yield Label("y yes · n no", classes="hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, readonly: bool) -> None:
        super().__init__()
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=True, header_style="bold")
        table.add_column("key", no_wrap=True)
        table.add_column("does")
        table.add_column("where", style="dim")
        for k in KEYS:
            if self.readonly and k.mutates:
                continue
            table.add_row(k.label, k.description, "everywhere" if k.scope == ("*",) else ", ".join(k.scope))
        with Vertical(id="help-box", classes="modal-box"):
            yield Label(Text("chute console — keys", style="bold"))
            yield Static(table)
            yield Label("ctrl+p opens the command palette with the same actions · esc closes", classes="hint")
