"""PDFs with pypdf: pages, document info, encryption, a text excerpt. Runs in a child process
so a pathological file hits the timeout instead of hanging the engine."""

from __future__ import annotations

import logging
from pathlib import Path

from .base import ProcessingError, Result

EXCERPT_PAGES = 3
EXCERPT_CHARS = 500


class PdfProcessor:
    kind = "pdf"
    extensions = frozenset({".pdf"})
    inline = False
    outputs = ()

    def process(self, path: Path, name: str, workdir: Path) -> Result:
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, PdfReadError

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        try:
            reader = PdfReader(path, strict=False)
            encrypted = reader.is_encrypted
            if encrypted:
                try:
                    opened = reader.decrypt("")
                except DependencyError as exc:
                    raise ProcessingError(
                        "encrypted", f"encrypted PDF this build cannot decrypt: {exc}"
                    ) from None
                if not opened:
                    raise ProcessingError("encrypted", "encrypted PDF: a password is needed to open it")
            pages = len(reader.pages)
            info = {str(k).lstrip("/"): str(v)[:200] for k, v in (reader.metadata or {}).items()}
            excerpt = ""
            for page in reader.pages[:EXCERPT_PAGES]:
                try:
                    excerpt += page.extract_text() or ""
                except Exception:  # a broken content stream should not fail the whole file
                    break
                if len(excerpt) >= EXCERPT_CHARS:
                    break
        except ProcessingError:
            raise
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
            raise ProcessingError("corrupt", f"not a readable PDF: {exc or type(exc).__name__}") from None
        return Result(
            meta={
                "pages": pages,
                "encrypted": encrypted,
                "info": info,
                "excerpt": " ".join(excerpt.split())[:EXCERPT_CHARS],
            }
        )
