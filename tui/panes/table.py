"""A DataTable of files keyed by file id: rows are updated in place, never cleared and rebuilt."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from chute.engine.model import FileRecord

from .. import fmt


class FileTable(DataTable):
    """Columns are (key, label, width); `cells` turns a FileRecord into one row."""

    COLUMNS: tuple[tuple[str, str, int | None], ...] = ()

    def __init__(self, root: str | None = None, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.root = root
        self.records: dict[str, FileRecord] = {}

    def on_mount(self) -> None:
        for key, label, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def cells(self, rec: FileRecord) -> list[object]:
        raise NotImplementedError

    def upsert(self, records: Iterable[FileRecord], prune: bool = False) -> None:
        """Update rows we have, add the rest, keep newest first; `prune` drops rows not given."""
        records = list(records)
        seen = set()
        added = False
        # Rows arriving above the cursor must not move the selection onto another file: an
        # operator pressing r retries what they looked at.
        selected = self.selected_id() if self.row_count else None
        with self.app.batch_update():
            for rec in records:
                key = str(rec.id)
                seen.add(key)
                old = self.records.get(key)
                self.records[key] = rec
                row = self.cells(rec)
                if key in self.rows:
                    if old != rec:
                        for (col, _, _), value in zip(self.COLUMNS, row, strict=True):
                            self.update_cell(key, col, value)
                else:
                    self.add_row(*row, key=key)
                    added = True
            if prune:
                for key in [k for k in self.records if k not in seen]:
                    self.remove_row(key)
                    del self.records[key]
            if added:
                self.sort("id", key=lambda v: int(str(v)), reverse=True)
            if selected is not None and str(selected) in self.rows:
                row = self.get_row_index(str(selected))
                if row != self.cursor_row:
                    self.move_cursor(row=row, animate=False, scroll=False)

    def set_state(self, file_id: int, state: str) -> None:
        key = str(file_id)
        if key in self.rows:
            self.update_cell(key, "state", fmt.state(state))

    def selected_id(self) -> int | None:
        if self.row_count == 0:
            return None
        try:
            return int(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)
        except Exception:
            return None

    def ids(self) -> list[int]:
        return [int(k) for k in self.records]


def name_cell(name: str) -> Text:
    return Text(fmt.one_line(name.replace("\n", "⏎"), 60), no_wrap=True, overflow="ellipsis")
