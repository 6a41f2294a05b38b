"""Plain text (txt, log, md): encoding, lines, words, characters and the most frequent terms."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .base import Result, read_input
from .encoding import decode

_TERM = re.compile(r"[^\W\d_]{3,}")
_TERMS_SCAN_CHARS = 2_000_000  # enough for a representative top-terms list of a big log


class TextProcessor:
    kind = "text"
    extensions = frozenset({".txt", ".text", ".log", ".md", ".markdown", ".rst"})
    inline = True
    outputs = ()

    def process(self, path: Path, name: str, workdir: Path) -> Result:
        text, encoding = decode(read_input(path))
        lines = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
        top = Counter(_TERM.findall(text[:_TERMS_SCAN_CHARS].lower())).most_common(10)
        return Result(
            meta={
                "encoding": encoding,
                "lines": lines,
                "words": len(text.split()),
                "characters": len(text),
                "top_terms": [[term, count] for term, count in top],
            }
        )
