"""A picture made ready to send: decoded once, turned upright, scaled to fit a maximum side, and
written anew, so nothing of the original's metadata (EXIF location, camera, comments) is kept."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from chat.errors import InputError
from chat.files.kinds import FileType

_FORMATS = {"PNG": FileType.PNG, "JPEG": FileType.JPEG, "GIF": FileType.GIF, "WEBP": FileType.WEBP}
JPEG_QUALITY = 85


@dataclass(frozen=True)
class PreparedImage:
    data: bytes
    media_type: str
    width: int
    height: int


def prepare_image(name: str, data: bytes, *, max_side: int, max_pixels: int) -> PreparedImage:
    """The picture as it is stored and sent: PNG when it has transparency, else JPEG."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:  # the header only: nothing decoded yet
                if image.format not in _FORMATS:
                    raise InputError(f"{name} is not a PNG, JPEG, GIF or WebP picture.")
                width, height = image.size
                if width * height > max_pixels:
                    raise InputError(
                        f"{name} is {width:,} x {height:,} pixels, more than the {max_pixels / 1e6:.0f} million "
                        "Parley opens (PARLEY_IMAGE_MAX_MEGAPIXELS). Scale it down and attach it again."
                    )
                image.seek(0)  # an animation: its first frame
                # A JPEG is decoded at the smallest power-of-two scale still as large as the result:
                # a 12-megapixel photo need not take its full 36 MB on the way to 2048 pixels.
                ratio = min(1.0, max_side / max(width, height))
                image.draft("RGB", (max(1, int(width * ratio)), max(1, int(height * ratio))))
                upright = ImageOps.exif_transpose(image)  # decodes; the orientation tag applied
        return _encode(upright, max_side)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name} unpacks to a picture too large to open.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise InputError(f"{name} could not be read as a picture: it may be damaged.") from None


def _encode(image: Image.Image, max_side: int) -> PreparedImage:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # only ever smaller
    out = io.BytesIO()
    if has_alpha:
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    media_type = FileType.PNG if has_alpha else FileType.JPEG
    return PreparedImage(out.getvalue(), media_type.value, image.width, image.height)


def thumbnail(data: bytes, side: int) -> bytes:
    """A stored picture made small for the chat (JPEG, or PNG when it has transparency)."""
    with Image.open(io.BytesIO(data)) as image:
        return _encode(image, side).data
