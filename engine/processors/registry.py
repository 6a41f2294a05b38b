"""Which processor handles a file: content sniffing first, then the extension (any case).

Plugins add processors through the `chute.processors` entry-point group; each entry point
names a class (or instance) with `kind`, `extensions`, `inline` and `process`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from .base import ProcessingError, Processor
from .image import ImageProcessor
from .json_doc import JsonProcessor
from .pdf import PdfProcessor
from .sniff import looks_textual, sniff
from .tabular import CsvProcessor
from .text import TextProcessor

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "chute.processors"
BUILTIN = (CsvProcessor, TextProcessor, ImageProcessor, PdfProcessor, JsonProcessor)


@dataclass(frozen=True)
class Choice:
    processor: Processor
    note: str | None  # e.g. "named .jpg but the content is png"


class Registry:
    def __init__(self, processors: list[Processor]) -> None:
        self.by_kind: dict[str, Processor] = {}
        self.by_ext: dict[str, Processor] = {}
        for p in processors:
            self.add(p)

    def add(self, processor: Processor) -> None:
        self.by_kind[processor.kind] = processor
        for ext in processor.extensions:
            self.by_ext[ext.lower()] = processor

    def output_suffixes(self) -> tuple[str, ...]:
        """Every suffix an output file may add beside a placed file, for every kind."""
        # Plugins written before processors declared their outputs have none to declare.
        return tuple(sorted({s for p in self.by_kind.values() for s in getattr(p, "outputs", ())}))

    @classmethod
    def default(cls, plugins: bool = True, csv_formulas: str = "neutralize") -> Registry:
        registry = cls([p() for p in BUILTIN])
        registry.add(CsvProcessor(neutralize_formulas=csv_formulas == "neutralize"))
        if plugins:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    loaded = ep.load()
                    registry.add(loaded() if isinstance(loaded, type) else loaded)
                except Exception as exc:  # a broken plugin must not stop the engine
                    log.warning("processor plugin %s could not be loaded: %s", ep.name, exc)
        return registry

    def choose(self, name: str, head: bytes) -> Choice:
        ext = _suffix(name)
        by_name = self.by_ext.get(ext)
        sniffed = sniff(head)
        if sniffed is not None and sniffed[0] in self.by_kind:
            kind, fmt = sniffed
            note = None
            if (by_name is not None and by_name.kind != kind) or (
                kind == "image" and ext and ext.lstrip(".") not in _ALIASES.get(fmt, {fmt})
            ):
                note = f"named {ext} but the content is {fmt}"
            return Choice(self.by_kind[kind], note)
        if by_name is not None:
            return Choice(by_name, None)
        if looks_textual(head) and "text" in self.by_kind:
            return Choice(
                self.by_kind["text"],
                f"no processor for {ext or 'names without an extension'}; the content is text",
            )
        raise ProcessingError(
            "unsupported",
            f"no processor for {ext or 'names without an extension'} and the content is not text",
        )


def _suffix(name: str) -> str:
    """PurePath(name).suffix.lower(), without building a path for every file."""
    i = name.rfind(".")
    return name[i:].lower() if 0 < i < len(name) - 1 else ""


_ALIASES = {"jpeg": {"jpg", "jpeg", "jpe", "jfif"}, "tiff": {"tif", "tiff"}}
