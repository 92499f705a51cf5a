"""Attached files in the export document: each file's content once, under `files` (by digest), and
each prompt's files by name and digest; and taken back by an import.

An import is a file from outside: a picture is decoded and written anew (`prepare_image`), a text is
checked to be text, and its content is filed under a digest of its own (`imported_digest`), so it
never stands in for a file the user uploads later under that file's digest."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from chat.db import attachments as stored_files
from chat.db.tables import Message
from chat.domain.attachments import Attachment, AttachmentKind, Content
from chat.files.images import prepare_image
from chat.files.intake import clean_name

# What an imported picture may be: the largest side and pixel count Parley's own settings allow.
IMPORT_IMAGE_SIDE = 8192
IMPORT_IMAGE_PIXELS = 170_000_000


def message_files(message: Message) -> list[dict[str, str]]:
    return [{"name": file.name, "digest": file.content.digest} for file in message.files]


def files_document(session: Session, username: str, messages: Iterable[Message]) -> dict[str, Any]:
    """The contents of the messages' files, once each, by digest."""
    digests = {file.content.digest for message in messages for file in message.files}
    return {
        digest: {
            "kind": row.kind,
            "media_type": row.media_type,
            "size": row.size,
            "pages": row.pages,
            "data": base64.b64encode(row.data).decode() if row.data else None,
            "text": row.text,
        }
        for digest, row in stored_files.known(session, username, digests).items()
    }


def imported_digest(content: Content) -> str:
    return hashlib.sha256(b"parley-import\0" + (content.data or content.text.encode())).hexdigest()


def take_files(session: Session, username: str, files: Any) -> dict[str, Attachment]:
    """The document's `files`, checked and kept for `username`; by the document's digests."""
    if files is None:
        return {}
    if not isinstance(files, dict):
        raise TypeError("files is an object of files by digest")
    taken: dict[str, Attachment] = {}
    for key, item in files.items():
        attachment, content = _file(item)
        attachment = replace(attachment, digest=imported_digest(content))
        stored_files.keep(session, username, attachment, content)
        taken[str(key)] = attachment
    return taken


def attach_files(
    session: Session,
    username: str,
    rows: Sequence[Message],
    items: Sequence[dict[str, Any]],
    taken: dict[str, Attachment],
) -> None:
    """Each imported prompt's files, as the document names them."""
    for row, item in zip(rows, items, strict=True):
        named = item.get("files") or []
        if not isinstance(named, list) or (named and row.role != "user"):
            raise ValueError("only a prompt has files, as a list")
        attachments = [_named(taken, entry) for entry in named]
        stored_files.attach(session, row.id, username, attachments)


def _named(taken: dict[str, Attachment], entry: Any) -> Attachment:
    if not isinstance(entry, dict) or str(entry.get("digest")) not in taken:
        raise ValueError("a prompt's file names one of the document's files")
    found = taken[str(entry["digest"])]
    return replace(found, name=clean_name(str(entry.get("name") or "file")))


def _file(item: Any) -> tuple[Attachment, Content]:
    if not isinstance(item, dict):
        raise TypeError("a file is an object")
    kind = AttachmentKind(str(item.get("kind")))
    size = item.get("size")
    if type(size) is not int or size < 0:
        raise ValueError("a file's size is a whole number of bytes")
    if kind is AttachmentKind.IMAGE:
        try:
            data = base64.b64decode(str(item.get("data") or ""), validate=True)
        except binascii.Error:
            raise ValueError("a picture's data is base64") from None
        image = prepare_image("a picture", data, max_side=IMPORT_IMAGE_SIDE, max_pixels=IMPORT_IMAGE_PIXELS)
        attachment = Attachment("", "", kind, image.media_type, size, width=image.width, height=image.height)
        return attachment, Content(data=image.data)
    text = item.get("text")
    if not isinstance(text, str) or not text:
        raise ValueError("a document's text is a string")
    pages = item.get("pages")
    if pages is not None and (type(pages) is not int or pages < 0):
        raise ValueError("a document's pages are a whole number")
    media_type = str(item.get("media_type") or "text/plain")[:100]
    return Attachment("", "", kind, media_type, size, pages=pages, chars=len(text)), Content(text=text)
