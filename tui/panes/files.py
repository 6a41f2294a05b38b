"""Files: the live table of every file, newest first, paged, with a `/` filter."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from chute.engine.model import STATES, Event, FilePage, FileRecord

from .. import fmt
from .table import FileTable, name_cell

PAGE = 200
RELOAD_EVERY = 1.0
FILE_EVENTS = {"arrived", "done", "failed", "duplicate", "vanished", "retry_requested", "retry_wait"}


def parse_filter(text: str) -> tuple[str | None, str | None, str | None]:
    """'state:failed kind:csv report' -> (state, kind, name contains)."""
    state = kind = None
    words = []
    for word in text.split():
        if word.startswith("state:") and word[6:] in STATES:
            state = word[6:]
        elif word.startswith("kind:") and word[5:]:
            kind = word[5:]
        else:
            words.append(word)
    return state, kind, " ".join(words) or None


class FilesTable(FileTable):
    COLUMNS = (
        ("id", "#", 5),
        ("time", "time", 8),
        ("name", "name", 20),
        ("kind", "kind", 5),
        ("state", "state", 8),
        ("duration", "took", 6),
        ("where", "went to", None),
    )

    def cells(self, rec: FileRecord) -> list[object]:
        return [
            str(rec.id),
            fmt.clock(rec.finished_at or rec.arrived_at),
            name_cell(rec.name),
            rec.kind or "",
            fmt.state(rec.state),
            fmt.seconds(rec.duration),
            fmt.one_line(fmt.place(rec.dest, rec.name), 60),
        ]


class FilesPane(Vertical):
    def __init__(self, view, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view
        self.filter_text = ""
        self.next_before: int | None = None
        self._last_reload = 0.0
        self._reload_pending = False

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: words in the name, state:failed, kind:csv — enter applies, esc clears",
            id="files-filter",
            classes="hidden",
        )
        yield FilesTable(root=self.view.root, id="files-table")
        yield Static("", id="files-status", classes="status-line")

    @property
    def table(self) -> FilesTable:
        return self.query_one(FilesTable)

    def load(self) -> None:
        self.run_worker(self._load(replace=True), group="files-load", exclusive=True)

    async def _load(self, replace: bool, before: int | None = None) -> None:
        state, kind, q = parse_filter(self.filter_text)
        page: FilePage = await self.view.call(
            self.view.source.files, state=state, kind=kind, q=q, limit=PAGE, before=before
        )
        if page is None:
            return
        if before is None:
            self.next_before = page.next_before if replace or self.next_before is None else self.next_before
        else:
            self.next_before = page.next_before
        self.table.upsert(page.items, prune=replace and before is None)
        self._status()

    def _status(self) -> None:
        shown = self.table.row_count
        more = " — more below (scroll to load)" if self.next_before else ""
        filt = f" matching “{self.filter_text}”" if self.filter_text else ""
        self.query_one("#files-status", Static).update(f"{shown:,} files shown{filt}{more}")

    def on_events(self, events: list[Event]) -> None:
        if any(e.type in FILE_EVENTS for e in events):
            self.reload_soon()

    def reload_soon(self) -> None:
        """Refresh the first page, at most once a second however fast events come."""
        now = time.monotonic()
        if now - self._last_reload >= RELOAD_EVERY:
            self._last_reload = now
            self.run_worker(self._load(replace=False), group="files-load", exclusive=True)
        elif not self._reload_pending:
            self._reload_pending = True
            self.set_timer(RELOAD_EVERY, self._deferred_reload)

    def _deferred_reload(self) -> None:
        self._reload_pending = False
        self.reload_soon()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Page instead of loading 100,000 rows: fetch the next page when the cursor nears the end.
        if self.next_before and event.cursor_row >= self.table.row_count - 2:
            before, self.next_before = self.next_before, None
            self.run_worker(self._load(replace=False, before=before), group="files-more", exclusive=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.view.show_detail(self.table.selected_id())

    def open_filter(self) -> None:
        box = self.query_one("#files-filter", Input)
        box.remove_class("hidden")
        box.value = self.filter_text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        self.next_before = None
        self.table.focus()
        if not self.filter_text:
            event.input.add_class("hidden")
        self.load()

    def on_key(self, event) -> None:
        box = self.query_one("#files-filter", Input)
        if event.key == "escape" and box.has_focus:
            box.value = ""
            box.add_class("hidden")
            self.filter_text = ""
            self.table.focus()
            self.load()
            event.stop()
