"""JSON documents: valid or not (and where not), and the top-level shape."""

from __future__ import annotations

import json
from pathlib import Path

from .base import ProcessingError, Result, read_input
from .encoding import decode


class JsonProcessor:
    kind = "json"
    extensions = frozenset({".json", ".geojson"})
    inline = True
    outputs = ()

    def process(self, path: Path, name: str, workdir: Path) -> Result:
        return self.process_data(read_input(path), name)

    def process_data(self, data: bytes, name: str) -> Result:
        text, encoding = decode(data)
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProcessingError(
                "corrupt", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
        except RecursionError:
            raise ProcessingError("corrupt", "JSON nested too deeply to read") from None
        meta: dict = {
            "encoding": encoding,
            "top_level": type(doc).__name__.replace("dict", "object").replace("list", "array"),
        }
        if isinstance(doc, dict):
            meta["keys"] = len(doc)
            meta["first_keys"] = list(doc)[:20]
        elif isinstance(doc, list):
            meta["length"] = len(doc)
            meta["element_types"] = sorted({type(v).__name__ for v in doc[:1000]})
        return Result(meta=meta)
