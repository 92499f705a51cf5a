"""A file attached to a prompt, as Parley keeps it: a picture for a vision model, or a document
whose text goes with the request (issue 22).

The record is what every layer passes around; the bytes and the text live in the log
(`chat/db/attachments.py`) and are read only to build a request or draw a thumbnail. A file is
known by the SHA-256 of its bytes as uploaded, so the same file sent again is never stored or
read twice (`chat/files/intake.py`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AttachmentKind(enum.StrEnum):
    IMAGE = "image"
    DOCUMENT = "document"


@dataclass(frozen=True)
class Attachment:
    """A file as the chat shows it and the request sends it; its content is stored apart."""

    digest: str  # SHA-256 of the bytes as uploaded: the key of the stored content
    name: str  # as the user's file was called (a label only: the type comes from the content)
    kind: AttachmentKind
    media_type: str  # what is stored: an image as re-encoded, a document's own type
    size: int  # bytes as uploaded
    pages: int | None = None  # a PDF's or a .docx's pages, when known
    width: int = 0  # an image as stored (after resizing), for the token estimate
    height: int = 0
    chars: int = 0  # a document's text, in characters

    @property
    def is_image(self) -> bool:
        return self.kind is AttachmentKind.IMAGE


@dataclass(frozen=True)
class Content:
    """An attachment's stored content: an image's bytes, or a document's text."""

    data: bytes = b""
    text: str = ""


def image_tokens(width: int, height: int) -> int:
    """What an image costs in a request, as OpenAI counts one at high detail: 85 tokens, and 170 per
    512-pixel tile once it is scaled to fit 2048 x 2048 and then to 768 on its short side. Other servers
    count differently; this is the estimate the budget uses."""
    if width <= 0 or height <= 0:
        return 85
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    tiles = -(-int(w) // 512) * -(-int(h) // 512)
    return 85 + 170 * tiles


def size_in_words(size: int) -> str:
    """A file's size as a person reads it: 812 bytes, 34 KB, 2.5 MB."""
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"
