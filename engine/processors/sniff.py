"""Content sniffing: what the first bytes say a file is, whatever its name says."""

from __future__ import annotations

_MAGIC: list[tuple[bytes, int, str, str]] = [
    (b"\x89PNG\r\n\x1a\n", 0, "image", "png"),
    (b"\xff\xd8\xff", 0, "image", "jpeg"),
    (b"GIF87a", 0, "image", "gif"),
    (b"GIF89a", 0, "image", "gif"),
    (b"BM", 0, "image", "bmp"),
    (b"II*\x00", 0, "image", "tiff"),
    (b"MM\x00*", 0, "image", "tiff"),
    (b"\x00\x00\x01\x00", 0, "image", "ico"),
    (b"%PDF-", 0, "pdf", "pdf"),
]


def sniff(head: bytes) -> tuple[str, str] | None:
    """(kind, format) when the leading bytes identify the content, else None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    for magic, offset, kind, fmt in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            # "BM" alone is too weak: a text file may start with it; check the BMP header size field.
            if fmt == "bmp" and (len(head) < 18 or head[14] not in (12, 40, 52, 56, 64, 108, 124)):
                continue
            return kind, fmt
    # A PDF may have junk before its header; readers accept it within the first KiB.
    if b"%PDF-" in head[:1024]:
        return "pdf", "pdf"
    return None


def looks_textual(head: bytes) -> bool:
    if not head:
        return False
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls <= len(head) // 100
