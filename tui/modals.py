"""Screens over the console: a file's detail (a whole scrollable screen), a sidecar's text, a
yes/no confirmation, and the key help (from the key table)."""

from __future__ import annotations

import json
import os
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label, Static

from chute.engine.model import FAILED, FileDetail

from . import fmt
from .keys import KEYS, TABLES
from .messages import RetryRequested

SIDECARS = {"error": ".error.txt", "meta": ".meta.json"}


def _grid() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    return table


class DetailScreen(Screen[None]):
    """Everything about one file, scrollable at any size: what was found, every attempt, the
    timeline to the second, the whole error; and what can be done from here."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("r", "retry", "Retry"),
        Binding("e", "sidecar('error')", ".error.txt"),
        Binding("m", "sidecar('meta')", ".meta.json"),
        Binding("c", "copy_path", "Copy path"),
        Binding("o", "jump('outputs')", "Outputs"),
        Binding("t", "jump('timeline')", "Timeline"),
        Binding("j", "scroll('down')", "Down", show=False),
        Binding("k", "scroll('up')", "Up", show=False),
        Binding("g", "scroll('home')", "Top", show=False),
        Binding("G", "scroll('end')", "Bottom", show=False),
    ]

    def __init__(
        self, detail: FileDetail, root: str | None, view: Any = None, readonly: bool = False
    ) -> None:
        super().__init__()
        self.detail = detail
        self.root = root
        self.view = view  # the engine view this file belongs to: where a retry goes
        self.readonly = readonly

    def compose(self) -> ComposeResult:
        f = self.detail.file
        yield Label(
            Text.assemble(
                (f" #{f.id} ", "bold reverse"), " ", (fmt.safe(f.name), "bold"), "  ", fmt.state(f.state)
            ),
            id="detail-title",
        )
        with VerticalScroll(id="detail-body"):
            facts = _grid()
            for label, value in (
                ("kind", f.kind or "—"),
                ("size", fmt.size(f.size)),
                ("sha256", f.sha256 or "—"),
                ("arrived", fmt.stamp(f.arrived_at)),
                ("finished", fmt.stamp(f.finished_at)),
                ("processing", f"{fmt.seconds(f.duration)} (the last attempt, in the processor)"),
                ("latency", f"{fmt.seconds(f.latency)} (arrival or retry to placed)"),
                ("attempts", str(f.attempts)),
                ("where", fmt.safe(fmt.where(f.dest, self.root))),
            ):
                facts.add_row(label, value)
            yield Static(facts, id="detail-facts")
            if f.reason:
                yield Label("error", classes="section")
                yield Static(
                    Text(f"{fmt.safe(f.error_kind)}: {fmt.safe(f.reason)}", style="red"), id="detail-error"
                )
            yield Label("found", classes="section")
            found = {k: v for k, v in self.detail.meta.items() if k != "outputs"}
            body = json.dumps(found, indent=2, ensure_ascii=False)[:4000] if found else "nothing recorded"
            yield Static(Text("\n".join(fmt.safe(line) for line in body.splitlines())), id="detail-found")
            yield Label("outputs", classes="section", id="outputs")
            yield Static(Text("\n".join(self.outputs()) or "none"), id="detail-outputs")
            yield Label("attempts", classes="section")
            attempts = Table.grid(padding=(0, 2))
            for a in self.detail.attempts:
                attempts.add_row(
                    str(a.n),
                    fmt.stamp(a.started_at),
                    fmt.state(a.outcome),
                    fmt.seconds(a.duration),
                    Text(fmt.safe(a.reason)),
                )
            yield Static(attempts if self.detail.attempts else Text("none yet"), id="detail-attempts")
            yield Label("timeline", classes="section", id="timeline")
            timeline = Table.grid(padding=(0, 2))
            timeline.add_column(no_wrap=True)
            timeline.add_column(no_wrap=True)
            timeline.add_column(overflow="fold")
            for e in self.detail.events:
                timeline.add_row(fmt.stamp(e.ts), e.type, Text(fmt.safe(e.message)))
            yield Static(timeline, id="detail-timeline")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()

    def outputs(self) -> list[str]:
        """Where the file and what was made from it are (names from the meta's `outputs`)."""
        dest = self.detail.file.dest
        if not dest:
            return []
        folder = os.path.dirname(dest)
        names = [os.path.basename(dest)] + [str(n) for n in self.detail.meta.get("outputs", [])]
        return [fmt.safe(fmt.where(os.path.join(folder, n), self.root)) for n in names]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry":
            return not self.readonly and self.detail.file.state == FAILED
        return True

    def action_retry(self) -> None:
        self.post_message(RetryRequested([self.detail.file.id]))

    def action_sidecar(self, which: str) -> None:
        self.app.push_screen(SidecarScreen(*self.sidecar(which)))

    def sidecar(self, which: str) -> tuple[str, str]:
        """(title, text) of a sidecar: the file itself where this machine can read it, else what
        the engine's API says it holds."""
        f = self.detail.file
        path = (f.dest or "") + SIDECARS[which]
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                return path, handle.read(200_000)
        except OSError:
            pass
        if which == "meta":
            text = json.dumps(self.detail.meta, indent=2, ensure_ascii=False)
        else:
            text = f"{f.error_kind}: {f.reason}" if f.reason else "no error recorded"
        return f"{path} (not readable here; what the engine's API says)", text

    def action_copy_path(self) -> None:
        path = self.detail.file.dest
        if not path:
            self.notify("this file has no destination yet", severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(path)  # OSC 52: reaches the local clipboard over SSH too
        self.notify(f"copied {fmt.safe(path)}", timeout=3, markup=False)

    def action_jump(self, section: str) -> None:
        self.query_one(f"#{section}").scroll_visible(top=True, animate=False)

    def action_scroll(self, where: str) -> None:
        body = self.query_one("#detail-body", VerticalScroll)
        {"down": body.scroll_down, "up": body.scroll_up, "home": body.scroll_home, "end": body.scroll_end}[
            where
        ](animate=False)


class SidecarScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="sidecar-box", classes="modal-box"):
            yield Label(Text(fmt.safe(self.title_text), style="bold"))
            with VerticalScroll(id="sidecar-body"):
                yield Static(Text("\n".join(fmt.safe(line) for line in self.text.splitlines())))
            yield Label("esc closes · ↑↓ pgup pgdn scroll", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#sidecar-body").focus()


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes="modal-box"):
            yield Label(Text(self.question), id="confirm-question")
            yield Label("y yes · n no", classes="hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, readonly: bool, engines: int = 1) -> None:
        super().__init__()
        self.readonly = readonly
        self.engines = engines

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold", expand=True)
        table.add_column("key", no_wrap=True)
        table.add_column("does", ratio=1)
        table.add_column("where", style="dim", ratio=1)
        for k in KEYS:
            if k.applies(self.readonly, self.engines) and k.key != "ctrl+c":
                where = {("*",): "everywhere", TABLES: "every table"}.get(k.scope, ", ".join(k.scope))
                table.add_row(k.label, k.description, where)
        table.add_row(":", "file N · failed · kind K · engine NAME · a pane's name", "command line")
        table.add_row("enter", "in a file's detail: r retry, e/m sidecars, c copy path, o/t jump", "detail")
        with Vertical(id="help-box", classes="modal-box"):
            yield Label(
                Text("chute console — keys" + (" (read-only)" if self.readonly else ""), style="bold")
            )
            with VerticalScroll(id="help-body"):
                yield Static(table)
            yield Label("ctrl+p: the same actions by name · esc closes · ↑↓ scroll", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
