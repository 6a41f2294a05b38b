"""CSV and TSV with pandas: delimiter and encoding detection, shape, dtypes, nulls, and a
normalised UTF-8 CSV beside the original."""

from __future__ import annotations

import csv
import io
import re
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


# A spreadsheet opening the normalized CSV runs a cell starting with one of these as a formula
# (`=HYPERLINK(...)`, `@SUM(...)`, DDE through `+cmd|...`); OWASP's fix is a leading quote.
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def neutralize_formulas(df) -> int:
    """Prefix every text cell (and column name) that a spreadsheet would run with a `'`."""
    from pandas.api.types import is_numeric_dtype

    count = 0
    for column in df.columns:
        series = df[column]
        if is_numeric_dtype(series):
            continue  # numbers (a negative one starts with -) are never run as formulas
        risky = series.map(lambda v: isinstance(v, str) and _FORMULA_START.match(v) is not None)
        hits = int(risky.sum())
        if hits:
            df.loc[risky, column] = "'" + series[risky]
            count += hits
    renamed = {c: "'" + c for c in df.columns if isinstance(c, str) and _FORMULA_START.match(c)}
    if renamed:
        df.rename(columns=renamed, inplace=True)
    return count + len(renamed)


NORMALIZED = ".normalized.csv"  # the table as clean UTF-8 CSV, beside the placed file


class CsvProcessor:
    kind = "csv"
    extensions = frozenset({".csv", ".tsv", ".tab"})
    inline = True
    outputs = (NORMALIZED,)

    def __init__(self, neutralize_formulas: bool = True) -> None:
        self.neutralize_formulas = neutralize_formulas

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
        found = {
            "encoding": encoding,
            "delimiter": delimiter,
            "rows": len(df),
            "columns": len(df.columns),
            "column_names": [str(c) for c in df.columns],
            "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
            "nulls": {str(c): int(n) for c, n in df.isna().sum().items()},
        }
        if self.neutralize_formulas:
            found["formulas_neutralized"] = neutralize_formulas(df)
        out = workdir / "normalized.csv"
        df.to_csv(out, index=False, encoding="utf-8")
        return Result(meta=found, outputs={NORMALIZED: out})
