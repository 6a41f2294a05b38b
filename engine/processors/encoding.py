"""Text decoding with detection: UTF-8 on the fast path, BOMs, UTF-16 without BOM, then
charset-normalizer for legacy encodings (cp949/EUC-KR, Shift-JIS, cp1252, ...)."""

from __future__ import annotations

import codecs
import io
import re
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO

from .base import ProcessingError

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
_BOM_STARTS = tuple(bom for bom, _ in _BOMS)
# charset-normalizer names Korean text by the narrowest codec that fits; cp949 is the superset
# Windows actually writes, so decode with it to accept its extra syllables.
CHUNK = 1 << 20
_WIDEN = {"euc_kr": "cp949", "euc-kr": "cp949", "ascii": "utf-8", "latin_1": "cp1252"}


def _utf16_without_bom(data: bytes) -> str | None:
    if len(data) < 4 or len(data) % 2:
        return None
    even_nuls = data[0::2].count(0)
    odd_nuls = data[1::2].count(0)
    half = len(data) // 2
    if odd_nuls > half * 0.4 and even_nuls < half * 0.05:
        return "utf-16-le"
    if even_nuls > half * 0.4 and odd_nuls < half * 0.05:
        return "utf-16-be"
    return None


# Control characters no text holds (tab, line breaks, form feed and ESC for coloured logs do).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_SAMPLE_CHARS = 65_536
# Binary bytes decoded as UTF-16 or a legacy code page come out as controls, unassigned or
# private-use code points: a tenth of those in a sample is far beyond any real text.
_MAX_JUNK_SHARE = 0.10


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise ProcessingError saying why the bytes are not text."""
    encoding, chunks = decode_stream(io.BytesIO(data), chunk=len(data) + 1)
    return "".join(chunks), encoding


def decode_stream(f: BinaryIO, chunk: int = CHUNK) -> tuple[str, Iterator[str]]:
    """(encoding, text pieces) read `chunk` bytes at a time, so any size fits in little memory.

    The encoding is told from the first chunk (a whole file, when it fits). The pieces raise
    ProcessingError as soon as the bytes prove not to be text (a NUL, an invalid byte, mostly
    control characters at the start).
    """
    first = f.read(chunk)
    if len(first) < chunk and not first.startswith(_BOM_STARTS):
        # The whole file and no BOM: most files are UTF-8, decoded here once instead of being
        # decoded to detect it and again to read it.
        try:
            return "utf-8", _whole(first.decode("utf-8"), first)
        except UnicodeDecodeError:
            pass
    encoding, why = _detect(first, complete=len(first) < chunk)
    return encoding, _pieces(f, first, encoding, why, chunk)


def _whole(text: str, data: bytes) -> Iterator[str]:
    """The one piece of a whole file decoded as UTF-8, checked as _pieces checks the first."""
    if "\x00" in text:
        raise ProcessingError("binary", f"binary content, not text: NUL at offset {data.find(0)}")
    check_textual(text[:_SAMPLE_CHARS], "utf-8")
    if text:
        yield text


def _pieces(f: BinaryIO, data: bytes, encoding: str, why: str, chunk: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    utf8 = encoding.startswith("utf-8")
    offset = chars = 0  # bytes read and characters decoded before `data`
    while True:
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise _invalid(encoding, why, offset + exc.start, exc.reason) from None
        nul = text.find("\x00")
        if nul >= 0:
            # NUL is valid UTF-8, but no text file holds one: this is binary content.
            where = f"offset {offset + data.find(0)}" if utf8 else f"character {chars + nul}"
            raise ProcessingError("binary", f"binary content, not text: NUL at {where}")
        if chars == 0:
            check_textual(text[:_SAMPLE_CHARS], encoding)
        if text:
            yield text
        if not data:
            return
        offset += len(data)
        chars += len(text)
        data = f.read(chunk)


def _invalid(encoding: str, why: str, at: int, reason: str) -> ProcessingError:
    if why == "bom":
        return ProcessingError(
            "encoding", f"starts with a {encoding} BOM but is not valid {encoding}: {reason} at byte {at}"
        )
    if why == "nul":
        return ProcessingError("binary", f"binary content, not text: not valid {encoding} at byte {at}")
    if why == "utf-8":
        return ProcessingError("encoding", f"not valid UTF-8 at byte {at} (the start of the file was)")
    return ProcessingError("encoding", f"looks like {encoding} but byte {at} is not valid {encoding}")


def check_textual(sample: str, encoding: str) -> None:
    """Raise ProcessingError("binary") when decoded characters are mostly not text."""
    if not sample:
        return
    junk = len(_CONTROLS.findall(sample))
    if not encoding.startswith("utf-8"):
        # UTF-8 cannot yield these from binary by accident; the other decoders happily do.
        junk += sum(1 for ch in sample if unicodedata.category(ch) in ("Cn", "Co", "Cs"))
    if junk > len(sample) * _MAX_JUNK_SHARE:
        raise ProcessingError(
            "binary",
            f"binary content, not text: decoded as {encoding}, {junk} of the first {len(sample)} "
            "characters are control or unassigned characters",
        )


def _detect(sample: bytes, complete: bool) -> tuple[str, str]:
    """(encoding, why it was chosen: bom | utf-8 | nul | guess) from the first bytes."""
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name, "bom"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8", "utf-8"
    except UnicodeDecodeError:
        pass
    nul = sample.find(b"\x00")
    if nul >= 0:
        guess = _utf16_without_bom(sample if complete else sample[: len(sample) // 2 * 2])
        if guess:
            return guess, "nul"
        raise ProcessingError("binary", f"binary content, not text: NUL at offset {nul}")
    from charset_normalizer import from_bytes

    best = from_bytes(sample[:262_144]).best()
    if best is None:
        raise ProcessingError(
            "encoding", "cannot tell the text encoding (not UTF-8, UTF-16 or a known legacy one)"
        )
    return _WIDEN.get(best.encoding, best.encoding), "guess"
