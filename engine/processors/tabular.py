"""CSV and TSV with pandas: delimiter and encoding detection, shape, dtypes, nulls, and a
normalised UTF-8 CSV beside the original."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .base import ProcessingError, Result, read_input
from .encoding import decode

_DELIMITERS = ",;\t|"


def _delimiter(sample: str, name: str) -> str:
    if name.lower().endswith((".tsv", ".tab")):
        return "\t"
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = sample.split("\n", 1)[0]
        counts = {d: first.count(d) for d in _DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _check_shape(text: str, delimiter: str) -> int:
    """Fail on the first row whose field count differs from the header's; returns the width."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    width = None
    try:
        for row in reader:
            if not row:
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                raise ProcessingError(
                    "corrupt",
                    f"ragged rows: line {reader.line_num} has {len(row)} fields, the header has {width}",
                )
    except csv.Error as exc:
        raise ProcessingError("corrupt", f"malformed CSV at line {reader.line_num}: {exc}") from None
    if width is None:
        raise ProcessingError("empty", "no rows: the file holds only blank lines")
    return width


NORMALIZED = ".normalized.csv"  # the table as clean UTF-8 CSV, beside the placed file


class CsvProcessor:
    kind = "csv"
    extensions = frozenset({".csv", ".tsv", ".tab"})
    inline = True
    outputs = (NORMALIZED,)

    def process(self, path: Path, name: str, workdir: Path) -> Result:
        import pandas as pd

        text, encoding = decode(read_input(path))
        delimiter = _delimiter(text[:65536], name)
        _check_shape(text, delimiter)
        try:
            df = pd.read_csv(io.StringIO(text), sep=delimiter, on_bad_lines="error", skip_blank_lines=True)
        except pd.errors.EmptyDataError:
            raise ProcessingError("empty", "no columns to read") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise ProcessingError("corrupt", f"pandas cannot parse it: {exc}") from None
        out = workdir / "normalized.csv"
        df.to_csv(out, index=False, encoding="utf-8")
        return Result(
            meta={
                "encoding": encoding,
                "delimiter": delimiter,
                "rows": len(df),
                "columns": len(df.columns),
                "column_names": [str(c) for c in df.columns],
                "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
                "nulls": {str(c): int(n) for c, n in df.isna().sum().items()},
            },
            outputs={NORMALIZED: out},
        )
