"""Plain text (txt, log, md): encoding, lines, words, characters and the most frequent terms.

Read a chunk at a time, so a 300 MB log costs a few MiB of memory, not several times its size.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path

from .base import Result, open_input
from .encoding import decode_stream

_TERM = re.compile(r"[^\W\d_]{3,}")
_count = itemgetter(1)
_TERMS_SCAN_CHARS = 2_000_000  # enough for a representative top-terms list of a big log


class TextProcessor:
    kind = "text"
    extensions = frozenset({".txt", ".text", ".log", ".md", ".markdown", ".rst"})
    inline = True
    outputs = ()

    def process(self, path: Path, name: str, workdir: Path) -> Result:
        with open_input(path) as f:
            return _measure(*decode_stream(f))

    def process_data(self, data: bytes, name: str) -> Result:
        return _measure(*decode_stream(io.BytesIO(data)))


def _measure(encoding: str, pieces: Iterator[str]) -> Result:
    lines = words = characters = 0
    head: list[str] = []
    in_word = False  # the previous piece ended inside a word (it continues in this one)
    last = ""
    for text in pieces:
        if characters < _TERMS_SCAN_CHARS:
            head.append(text[: _TERMS_SCAN_CHARS - characters])
        characters += len(text)
        lines += text.count("\n")
        words += len(text.split())
        if in_word and not text[0].isspace():
            words -= 1
        in_word = not text[-1].isspace()
        last = text[-1]
    if last and last != "\n":
        lines += 1
    counts = Counter(_TERM.findall("".join(head).lower()))
    # most_common(10) as its docs define it, without the heap that only pays off for big counts
    top = (
        sorted(counts.items(), key=_count, reverse=True)[:10] if len(counts) < 500 else counts.most_common(10)
    )
    return Result(
        meta={
            "encoding": encoding,
            "lines": lines,
            "words": words,
            "characters": characters,
            "top_terms": [[term, count] for term, count in top],
        }
    )
