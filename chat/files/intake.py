"""One entry for an uploaded file: its limits checked, its type read from its bytes, and what is kept
of it made (a picture re-encoded, a document's text). A file refused raises `InputError`, naming it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from chat.domain.attachments import Attachment, AttachmentKind, Content, size_in_words
from chat.errors import InputError
from chat.files.documents import extract_text
from chat.files.images import prepare_image
from chat.files.kinds import FileType, sniff


@dataclass(frozen=True)
class Limits:
    """What one file and one message may carry, and how far a picture is scaled (settings)."""

    file_bytes: int
    message_bytes: int
    image_side: int
    image_pixels: int
    document_chars: int
    files_per_message: int = 10


@dataclass(frozen=True)
class Prepared:
    attachment: Attachment
    content: Content


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_message(sizes: Sequence[tuple[str, int]], limits: Limits) -> None:
    """The files of one message, (name, bytes) each, within the limits; before any is read."""
    if len(sizes) > limits.files_per_message:
        raise InputError(f"A message may carry {limits.files_per_message} files at most; this one has {len(sizes)}.")
    for name, size in sizes:
        if size > limits.file_bytes:
            raise InputError(
                f"{name} is {size_in_words(size)}; a file may be {size_in_words(limits.file_bytes)} at most "
                "(PARLEY_ATTACHMENT_MAX_MB)."
            )
    total = sum(size for _, size in sizes)
    if total > limits.message_bytes:
        raise InputError(
            f"These files come to {size_in_words(total)}; one message may carry "
            f"{size_in_words(limits.message_bytes)} (PARLEY_MESSAGE_ATTACHMENTS_MAX_MB)."
        )


def prepare(name: str, data: bytes, limits: Limits) -> Prepared:
    """The attachment and its content for a file of `data` called `name`."""
    name = clean_name(name)
    check_message([(name, len(data))], limits)
    found = sniff(data)
    if found is None:
        raise InputError(
            f"{name} is not a file Parley takes: pictures (PNG, JPEG, GIF, WebP), PDF, Word (.docx) "
            "and text files (Markdown, CSV, JSON, source code)."
        )
    key = digest(data)
    if found.is_image:
        image = prepare_image(name, data, max_side=limits.image_side, max_pixels=limits.image_pixels)
        attachment = Attachment(
            key, name, AttachmentKind.IMAGE, image.media_type, len(data), width=image.width, height=image.height
        )
        return Prepared(attachment, Content(data=image.data))
    extracted = extract_text(name, data, found, max_chars=limits.document_chars)
    media_type = found.value if found is not FileType.TEXT else "text/plain"
    attachment = Attachment(
        key, name, AttachmentKind.DOCUMENT, media_type, len(data), pages=extracted.pages, chars=len(extracted.text)
    )
    return Prepared(attachment, Content(text=extracted.text))


def clean_name(name: str) -> str:
    """A file's name as a label: its last path part, no control characters, 200 characters at most."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if c.isprintable()).strip()
    return (cleaned or "file")[:200]
