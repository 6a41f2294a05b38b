"""The one table widget of the console: rows keyed and updated in place, columns sized to what
they hold and to the screen (text that does not fit ends in …), vi-style movement, and `s` (or a
click on a header) to cycle the sort."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from chute.engine.model import FileRecord

from .. import fmt

PADDING = 2  # DataTable's cell_padding on both sides
COMFORTABLE = 20  # a flexible column (a reason, a path) keeps this much before others shrink


def _text_key(cell: object) -> Any:
    return (cell.plain if isinstance(cell, Text) else str(cell)).casefold()


def _number_key(cell: object) -> Any:
    text = cell.plain if isinstance(cell, Text) else str(cell)
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return float("-inf")


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    min: int  # never narrower than this
    max: int | None = None  # None: the flexible column, which takes the room that is left
    numeric: bool = False  # sorts as a number

    @property
    def sort_key(self) -> Callable[[object], Any]:
        return _number_key if self.numeric else _text_key


class KeyedTable(DataTable):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g,home", "scroll_top", "Top", show=False),
        Binding("G,end", "scroll_bottom", "Bottom", show=False),
        Binding("s", "cycle_sort", "Sort", show=False),
    ]

    COLUMNS: tuple[Col, ...] = ()
    DEFAULT_SORT: tuple[str, bool] | None = None  # (column, descending) when not sorted by hand

    def __init__(
        self, columns: Sequence[Col] | None = None, default_sort: tuple[str, bool] | None = None, **kwargs
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.cols: tuple[Col, ...] = tuple(columns or self.COLUMNS)
        self.default_sort = default_sort or self.DEFAULT_SORT
        self._widths: dict[str, tuple[int, ...]] = {}  # row key -> cell widths, for fitting
        self.sorted_by: tuple[str, bool] | None = None  # set by the operator: (column, descending)

    def on_mount(self) -> None:
        for col in self.cols:
            self.add_column(Text(col.label, no_wrap=True, overflow="ellipsis"), key=col.key, width=col.min)

    def on_resize(self) -> None:
        self.fit()

    # --- rows --------------------------------------------------------------------------------

    def set_rows(
        self,
        rows: Iterable[tuple[str, Sequence[object]]],
        prune: bool = False,
        present: set[str] | None = None,
    ) -> None:
        """Update rows we have (changed cells only), add the rest; `prune` drops rows not given
        (nor in `present`: rows known unchanged). The cursor stays on the row it was on, so a key
        pressed acts on what the operator saw."""
        selected = self.selected_key()
        seen: set[str] = set(present or ())
        changes: list[tuple[str, list[Text], list[Text] | None]] = []
        for key, cells in rows:
            seen.add(key)
            cells = [c if isinstance(c, Text) else fmt.plain(str(c)) for c in cells]
            old = self.get_row(key) if key in self.rows else None
            if old != cells:
                changes.append((key, cells, old))
        gone = [k for k in self._widths if k not in seen] if prune else []
        if not changes and not gone:
            return  # an idle engine: nothing to redraw
        added = False
        with self.app.batch_update():
            for key, cells, old in changes:
                if old is None:
                    self.add_row(*cells, key=key)
                    added = True
                else:
                    for col, value, before in zip(self.cols, cells, old, strict=True):
                        if value != before:
                            self.update_cell(key, col.key, value)
                self._widths[key] = tuple(cell_len(c.plain) for c in cells)
            for key in gone:
                self.remove_row(key)
                del self._widths[key]
                self.forget(key)
            if added:
                self.resort()
            self.fit()
            if selected is not None and selected in self.rows:
                index = self.get_row_index(selected)
                if index != self.cursor_row:
                    self.move_cursor(row=index, animate=False, scroll=False)

    def forget(self, key: str) -> None:
        """Drop what a subclass keeps beside a removed row."""

    def clear_rows(self) -> None:
        self.clear()
        self._widths.clear()

    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # the cursor is past the last row while rows are replaced
            return None

    # --- widths ------------------------------------------------------------------------------

    def fit(self) -> None:
        """Give each column what its widest cell needs (within its bounds); the flexible column
        takes the rest of the width. On a narrow screen the flexible column gives up room down to
        COMFORTABLE, then the others from the right down to their minimum, then it does."""
        room = self.size.width - 1  # a column kept for the vertical scrollbar
        if room <= 0 or not self.columns:
            return
        want = []
        for i, col in enumerate(self.cols):
            need = max((w[i] for w in self._widths.values()), default=0)
            need = max(need, cell_len(col.label), col.min)
            want.append(min(need, col.max) if col.max is not None else need)
        excess = sum(want) + PADDING * len(want) - room
        flexible = [i for i, col in enumerate(self.cols) if col.max is None]
        if excess < 0 and flexible:
            want[flexible[-1]] -= excess
        floors = {i: max(self.cols[i].min, min(want[i], COMFORTABLE)) for i in flexible}
        steps = [(i, floors[i]) for i in flexible]
        steps += [(i, self.cols[i].min) for i in reversed(range(len(want))) if i not in flexible]
        steps += [(i, self.cols[i].min) for i in flexible]
        for i, floor in steps:
            if excess <= 0:
                break
            give = max(0, min(excess, want[i] - floor))
            want[i] -= give
            excess -= give
        changed = False
        for col, width in zip(self.cols, want, strict=True):
            column = self.columns[col.key]
            if column.width != width or column.auto_width:
                column.width, column.auto_width = width, False
                changed = True
        if changed:
            self._require_update_dimensions = True
            self._clear_caches()
            self.refresh()

    # --- sorting -----------------------------------------------------------------------------

    def resort(self) -> None:
        column, descending = self.sorted_by or self.default_sort or (self.cols[0].key, False)
        col = next(c for c in self.cols if c.key == column)
        self.sort(column, key=col.sort_key, reverse=descending)

    def action_cycle_sort(self) -> None:
        """s: next column ascending, then the same column descending, then the next column."""
        keys = [c.key for c in self.cols]
        if self.sorted_by is None:
            self.sort_by(keys[0], False)
        elif not self.sorted_by[1]:
            self.sort_by(self.sorted_by[0], True)
        else:
            self.sort_by(keys[(keys.index(self.sorted_by[0]) + 1) % len(keys)], False)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = event.column_key.value
        same = self.sorted_by is not None and self.sorted_by[0] == column
        self.sort_by(column, not self.sorted_by[1] if same else False)

    def sort_by(self, column: str, descending: bool) -> None:
        selected = self.selected_key()
        self.sorted_by = (column, descending)
        self.resort()
        for col in self.cols:
            mark = (" ↓" if descending else " ↑") if col.key == column else ""
            self.columns[col.key].label = Text(col.label + mark, no_wrap=True, overflow="ellipsis")
        self._clear_caches()
        self.refresh()
        if selected is not None:
            self.move_cursor(row=self.get_row_index(selected), animate=False)
        self.notify(f"sorted by {column}, {'descending' if descending else 'ascending'}", timeout=2)


class FileTable(KeyedTable):
    """A table of files keyed by id, newest first unless sorted by hand."""

    DEFAULT_SORT = ("id", True)

    def __init__(self, root: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root = root
        self.records: dict[str, FileRecord] = {}

    def cells(self, rec: FileRecord) -> list[object]:
        raise NotImplementedError

    def upsert(self, records: Iterable[FileRecord], prune: bool = False) -> None:
        rows, present = [], set()
        for rec in records:
            key = str(rec.id)
            present.add(key)
            if self.records.get(key) != rec or key not in self.rows:  # cells only for what changed
                self.records[key] = rec
                rows.append((key, self.cells(rec)))
        self.set_rows(rows, prune=prune, present=present)

    def forget(self, key: str) -> None:
        self.records.pop(key, None)

    def clear_rows(self) -> None:
        super().clear_rows()
        self.records.clear()

    def set_state(self, file_id: int, state: str) -> None:
        key = str(file_id)
        rec = self.records.get(key)
        if rec is not None:
            self.upsert([FileRecord(**{**vars(rec), "state": state})])

    def selected_id(self) -> int | None:
        key = self.selected_key()
        return int(key) if key is not None else None

    def selected_record(self) -> FileRecord | None:
        key = self.selected_key()
        return self.records.get(key) if key is not None else None


def name_cell(name: str) -> Text:
    return fmt.plain(name)
