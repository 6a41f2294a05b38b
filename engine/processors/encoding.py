"""Text decoding with detection: UTF-8 on the fast path, BOMs, UTF-16 without BOM, then
charset-normalizer for legacy encodings (cp949/EUC-KR, Shift-JIS, cp1252, ...)."""

from __future__ import annotations

import codecs
import re
import unicodedata

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


# Control characters no text holds (tab, line breaks, form feed and ESC for coloured logs do).
_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_SAMPLE_CHARS = 65_536
# Binary bytes decoded as UTF-16 or a legacy code page come out as controls, unassigned or
# private-use code points: a tenth of those in a sample is far beyond any real text.
_MAX_JUNK_SHARE = 0.10


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise ProcessingError saying why the bytes are not text."""
    text, name = _decode(data)
    nul = text.find("\x00")
    if nul >= 0:
        # NUL is valid UTF-8, but no text file holds one: this is binary content.
        where = data.find(b"\x00") if name.startswith("utf-8") else nul
        unit = "offset" if name.startswith("utf-8") else "character"
        raise ProcessingError("binary", f"binary content, not text: NUL at {unit} {where}")
    check_textual(text[:_SAMPLE_CHARS], name)
    return text, name


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
