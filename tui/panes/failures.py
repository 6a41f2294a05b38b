"""Failures: failed files with error kind and reason; r retries the selected one, R all shown.

Rows stay while a retry goes through, and follow it live (queued, then done or failed again, with
the error of the latest attempt), so the operator sees the outcome of what they asked for.
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from chute.engine.model import FAILED, Event, FileRecord

from .. import fmt
from ..messages import DetailRequested
from .base import Pane
from .table import Col, FileTable, name_cell

PAGE = 500
FOLLOWED = {"retry_requested": "queued", "done": "done", "duplicate": "duplicate", "vanished": "vanished"}


class FailuresTable(FileTable):
    COLUMNS = (
        Col("id", "#", 4, 8, numeric=True),
        Col("time", "time", 8, 8),
        Col("name", "name", 14, 28),
        Col("state", "state", 6, 9),
        Col("tries", "n", 2, 3, numeric=True),
        Col("error", "error", 7, 10),
        Col("reason", "reason", 12),
    )

    def cells(self, rec: FileRecord) -> list[object]:
        return [
            str(rec.id),
            fmt.clock(rec.finished_at or rec.updated_at),
            name_cell(rec.name),
            fmt.state(rec.state),
            str(rec.attempts),
            fmt.plain(rec.error_kind),
            fmt.plain(fmt.one_line(rec.reason, 300)),
        ]


class FailuresPane(Pane):
    def compose(self) -> ComposeResult:
        yield FailuresTable(root=self.root, id="failures-table")
        yield Static("", id="failures-status", classes="status-line")

    @property
    def table(self) -> FailuresTable:
        return self.query_one(FailuresTable)

    @property
    def main(self) -> FailuresTable:
        return self.table

    @work(group="failures-load", exclusive=True)
    async def load(self) -> None:
        page = await self.fetch(self.source.files, state=FAILED, limit=PAGE)
        if page is not None:
            self.table.upsert(page.items)
            self._status()

    def _status(self) -> None:
        failed = len(self.failed_ids())
        hint = "" if self.readonly else " · r retry · R retry all shown"
        self.say("failures-status", f"{failed:,} failed shown · enter detail{hint}")

    def failed_ids(self) -> list[int]:
        return [r.id for r in self.table.records.values() if r.state == FAILED]

    def on_events(self, events: list[Event]) -> None:
        new_failure = False
        for e in events:
            if e.file_id is None or (str(e.file_id) not in self.table.records and e.type != FAILED):
                continue
            if e.type == FAILED:
                new_failure = True
            elif e.type in FOLLOWED:
                self.follow(e.file_id, FOLLOWED[e.type])
        if new_failure:
            self.load()  # brings new failures and the latest error of files that failed again

    def follow(self, file_id: int, state: str) -> None:
        """A row's file moved on: show where it is now; a file that is no longer failed has no
        error to show."""
        rec = self.table.records.get(str(file_id))
        if rec is None:
            return
        cleared = {} if state == FAILED else {"error_kind": None, "reason": None}
        self.table.upsert([FileRecord(**{**vars(rec), "state": state, **cleared})])
        self._status()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if (fid := self.table.selected_id()) is not None:
            self.post_message(DetailRequested(fid))
