"""Files: the live table of every file, newest first, paged, with a `/` filter."""

from __future__ import annotations

import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from chute.engine.model import FAILED, STATES, Event, FilePage, FileRecord

from .. import fmt
from ..messages import DetailRequested
from .base import Pane
from .table import Col, FileTable, name_cell

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
        Col("id", "#", 4, 8, numeric=True),
        Col("time", "time", 8, 8),
        Col("name", "name", 12),
        Col("kind", "kind", 4, 5),
        Col("state", "state", 6, 9),
        Col("duration", "took", 5, 7),
        Col("where", "went to", 8, 40),
    )

    def cells(self, rec: FileRecord) -> list[object]:
        return [
            str(rec.id),
            fmt.clock(rec.finished_at or rec.arrived_at),
            name_cell(rec.name),
            rec.kind or "",
            fmt.state(rec.state),
            fmt.seconds(rec.duration),
            fmt.plain(fmt.place(rec.dest, rec.name)),
        ]


class FilesPane(Pane):
    BINDINGS = [Binding("escape", "clear_filter", "Clear filter", show=False)]

    def __init__(self, source, **kwargs) -> None:
        super().__init__(source, **kwargs)
        self.filter_text = ""
        self.next_before: int | None = None
        self._last_reload = 0.0
        self._reload_pending = False

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="name words, state:failed, kind:csv — enter applies, esc clears",
            id="files-filter",
            classes="hidden",
        )
        yield FilesTable(root=self.root, id="files-table")
        yield Static("", id="files-status", classes="status-line")

    @property
    def table(self) -> FilesTable:
        return self.query_one(FilesTable)

    @property
    def main(self) -> FilesTable:
        return self.table

    def load(self) -> None:
        self._load(replace=True)

    @work(group="files-load", exclusive=True)
    async def _load(self, replace: bool) -> None:
        await self._page(replace)

    @work(group="files-more", exclusive=True)
    async def _load_more(self, before: int) -> None:
        await self._page(False, before)

    async def _page(self, replace: bool, before: int | None = None) -> None:
        state, kind, q = parse_filter(self.filter_text)
        page: FilePage | None = await self.fetch(
            self.source.files, state=state, kind=kind, q=q, limit=PAGE, before=before
        )
        if page is None:
            return
        if before is not None or replace or self.next_before is None:
            self.next_before = page.next_before
        self.table.upsert(page.items, prune=replace and before is None)
        self._status()

    def _status(self) -> None:
        shown = self.table.row_count
        more = " — more below" if self.next_before else ""
        filt = f" matching “{fmt.one_line(self.filter_text, 30)}” (esc clears)" if self.filter_text else ""
        self.say("files-status", f"{shown:,} files shown{filt}{more}")

    def on_events(self, events: list[Event]) -> None:
        if any(e.type in FILE_EVENTS for e in events):
            self.reload_soon()

    def reload_soon(self) -> None:
        """Refresh the first page, at most once a second however fast events come."""
        now = time.monotonic()
        if now - self._last_reload >= RELOAD_EVERY:
            self._last_reload = now
            self._load(replace=False)
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
            self._load_more(before)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if (fid := self.table.selected_id()) is not None:
            self.post_message(DetailRequested(fid))

    def failed_ids(self) -> list[int]:
        return [r.id for r in self.table.records.values() if r.state == FAILED]

    # --- the filter --------------------------------------------------------------------------

    def open_filter(self) -> None:
        box = self.query_one("#files-filter", Input)
        box.remove_class("hidden")
        box.value = self.filter_text
        box.focus()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.query_one("#files-filter", Input).set_class(not self.filter_text, "hidden")
        self.next_before = None
        self.table.focus()
        self.load()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_filter(event.value)

    def action_clear_filter(self) -> None:
        """esc, in the box or in the table: no filter, focus back on the table."""
        if self.filter_text or self.query_one("#files-filter", Input).has_focus:
            self.set_filter("")
