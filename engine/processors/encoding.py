"""Text decoding with detection: UTF-8 on the fast path, BOMs, UTF-16 without BOM, then
charset-normalizer for legacy encodings (cp949/EUC-KR, Shift-JIS, cp1252, ...)."""

from __future__ import annotations

import codecs

from .base import ProcessingError

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
# charset-normalizer names Korean text by the narrowest codec that fits; cp949 is the superset
# Windows actually writes, so decode with it to accept its extra syllables.
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


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise ProcessingError saying why the bytes are not text."""
    text, name = _decode(data)
    nul = text.find("\x00")
    if nul >= 0:
        # NUL is valid UTF-8, but no text file holds one: this is binary content.
        where = data.find(b"\x00") if name.startswith("utf-8") else nul
        unit = "offset" if name.startswith("utf-8") else "character"
        raise ProcessingError("binary", f"binary content, not text: NUL at {unit} {where}")
    return text, name


def _decode(data: bytes) -> tuple[str, str]:
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(name), name
            except UnicodeDecodeError as exc:
                raise ProcessingError(
                    "encoding",
                    f"starts with a {name} BOM but is not valid {name}: {exc.reason} at byte {exc.start}",
                ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    nul = data.find(b"\x00")
    if nul >= 0:
        guess = _utf16_without_bom(data)
        if guess:
            try:
                return data.decode(guess), guess
            except UnicodeDecodeError:
                pass
        raise ProcessingError("binary", f"binary content, not text: NUL at offset {nul}")
    from charset_normalizer import from_bytes

    best = from_bytes(data[:262_144]).best()
    if best is None:
        raise ProcessingError(
            "encoding", "cannot tell the text encoding (not UTF-8, UTF-16 or a known legacy one)"
        )
    name = _WIDEN.get(best.encoding, best.encoding)
    try:
        return data.decode(name), name
    except UnicodeDecodeError as exc:
        raise ProcessingError(
            "encoding", f"looks like {name} but byte {exc.start} is not valid {name}"
        ) from None
