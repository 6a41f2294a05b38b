"""Failures: failed files with error kind and reason; r retries the selected one, R all shown.

Rows stay while a retry goes through, and their state cell follows it live (queued, then done or
failed again), so the operator sees the outcome of what they asked for.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from chute.engine.model import Event, FileRecord

from .. import fmt
from .table import FileTable, name_cell

PAGE = 500


class FailuresTable(FileTable):
    COLUMNS = (
        ("id", "#", 5),
        ("time", "time", 8),
        ("name", "name", 16),
        ("state", "state", 7),
        ("tries", "n", 2),
        ("error", "error", 9),
        ("reason", "reason (enter: all of it)", None),
    )

    def cells(self, rec: FileRecord) -> list[object]:
        return [
            str(rec.id),
            fmt.clock(rec.finished_at or rec.updated_at),
            name_cell(rec.name),
            fmt.state(rec.state),
            str(rec.attempts),
            rec.error_kind or "",
            fmt.one_line(rec.reason, 160),
        ]


class FailuresPane(Vertical):
    def __init__(self, view, **kwargs) -> None:
        super().__init__(**kwargs)
        self.view = view

    def compose(self) -> ComposeResult:
        yield FailuresTable(root=self.view.root, id="failures-table")
        yield Static("", id="failures-status", classes="status-line")

    @property
    def table(self) -> FailuresTable:
        return self.query_one(FailuresTable)

    def load(self) -> None:
        self.run_worker(self._load(), group="failures-load", exclusive=True)

    async def _load(self) -> None:
        page = await self.view.call(self.view.source.files, state="failed", limit=PAGE)
        if page is None:
            return
        self.table.upsert(page.items)
        self._status()
        self.view.refresh_keys()

    def _status(self) -> None:
        failed = sum(1 for r in self.table.records.values() if r.state == "failed")
        hint = "" if self.view.readonly else "  r retry · R retry all shown · enter full error"
        self.query_one("#failures-status", Static).update(f"{failed:,} failed shown{hint}")

    def failed_ids(self) -> list[int]:
        return [r.id for r in self.table.records.values() if r.state == "failed"]

    def on_events(self, events: list[Event]) -> None:
        new_failure = False
        for e in events:
            if e.file_id is None:
                continue
            key = str(e.file_id)
            if e.type == "failed":
                new_failure = True
                if key in self.table.records:
                    self._set(e.file_id, "failed")
            elif key in self.table.records and e.type in ("retry_requested", "done", "duplicate", "vanished"):
                self._set(e.file_id, "queued" if e.type == "retry_requested" else e.type)
        if new_failure:
            self.load()

    def _set(self, file_id: int, state: str) -> None:
        key = str(file_id)
        rec = self.table.records.get(key)
        if rec is not None:
            self.table.records[key] = FileRecord(**{**vars(rec), "state": state})
        self.table.set_state(file_id, state)
        self._status()
        self.view.refresh_keys()

    def mark_retrying(self, ids: list[int]) -> None:
        for fid in ids:
            self._set(fid, "queued")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.view.show_detail(self.table.selected_id())
