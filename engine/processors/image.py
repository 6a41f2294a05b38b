"""Images with Pillow: format, size, mode, EXIF; truncated and corrupt files detected;
decompression bombs refused; a small PNG thumbnail beside the original."""

from __future__ import annotations

import warnings
from pathlib import Path

from .base import ProcessingError, Result

MAX_PIXELS = 64_000_000
THUMBNAIL = (256, 256)
THUMB = ".thumb.png"  # beside the placed image


def _exif(im) -> dict[str, str]:
    from PIL import ExifTags

    out = {}
    try:
        exif = im.getexif()
    except Exception:
        return out
    for tag, value in list(exif.items())[:64]:
        label = ExifTags.TAGS.get(tag, str(tag))
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        out[label] = text[:200]
    return out


class ImageProcessor:
    kind = "image"
    extensions = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".ico"})
    inline = False
    outputs = (THUMB,)

    def process(self, path: Path, name: str, workdir: Path) -> Result:
        from PIL import Image, UnidentifiedImageError

        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                with Image.open(path) as im:
                    fmt, size, mode = im.format, im.size, im.mode
                    frames = getattr(im, "n_frames", 1)
                    im.verify()
                with Image.open(path) as im:
                    im.load()
                    exif = _exif(im)
                    thumb = im.copy()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ProcessingError("too_large", f"refused as a decompression bomb: {exc}") from None
            except UnidentifiedImageError:
                raise ProcessingError(
                    "corrupt", "not a readable image: Pillow cannot identify its format"
                ) from None
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                words = str(exc) or type(exc).__name__
                if "truncated" in words.lower():
                    raise ProcessingError("corrupt", f"truncated image: {words}") from None
                raise ProcessingError("corrupt", f"damaged image: {words}") from None
        if thumb.mode not in ("RGB", "RGBA", "L", "LA"):
            thumb = thumb.convert("RGBA")
        thumb.thumbnail(THUMBNAIL)
        out = workdir / "thumb.png"
        thumb.save(out, "PNG")
        return Result(
            meta={
                "format": fmt,
                "width": size[0],
                "height": size[1],
                "mode": mode,
                "frames": frames,
                "exif": exif,
            },
            outputs={THUMB: out},
        )
