"""Names and reasons made safe for a terminal: control characters shown, never obeyed.

A file name may hold ESC, OSC, CR or BS (anyone who can write to the inbox chooses it); printed
raw, it can rewrite the operator's screen, retitle the window or hide text. Everything that is
not plainly printable is shown as a Python-style escape instead.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, lone surrogates (undecodable bytes of a name) and the bidirectional
# overrides and isolates, which reorder what follows them on screen ("trojan source").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: an undecodable byte of the original name
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, keep: str = "") -> str:
    """`text` with every control character escaped (`\\x1b`, `\\r`, `\\u202e`) except those in `keep`."""
    if keep:
        return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else _escape(m), str(text))
    return _UNSAFE.sub(_escape, str(text))


def printable_lines(text: str) -> str:
    """A multi-line document (a report) with each line made printable; line breaks kept."""
    return printable(text, keep="\n\t")
