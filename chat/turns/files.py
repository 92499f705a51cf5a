"""Files a user attaches, taken before the prompt is sent: each read once (a file the user stored
before is known by its digest and not read again), all kept in the log together or none."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chat.db import attachments as stored_files
from chat.db.failures import error_detail, in_words
from chat.domain.attachments import Attachment, Content
from chat.errors import InputError, StorageError
from chat.files.images import thumbnail
from chat.files.intake import Limits, Prepared, check_message, clean_name, digest, prepare
from chat.settings import Settings
from chat.settings.attachments import MB

log = logging.getLogger(__name__)

THUMBNAILS_KEPT = 500
NOT_KEPT = "Your files could not be kept ({reason}), so nothing was sent. Your message is back in the input box."


def limits_of(settings: Settings) -> Limits:
    return Limits(
        file_bytes=int(settings.attachment_max_mb * MB),
        message_bytes=int(settings.message_attachments_max_mb * MB),
        image_side=settings.image_max_side,
        image_pixels=int(settings.image_max_megapixels * MB),
        document_chars=settings.document_max_chars,
    )


class Files:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.enabled = settings.attachments
        self.limits = limits_of(settings)
        self._sessions = sessions
        self._thumbnails: OrderedDict[tuple[str, str, int], bytes | None] = OrderedDict()
        self._lock = threading.Lock()

    def take(
        self, username: str, uploads: Sequence[tuple[str, bytes]], *, waiting: Sequence[Attachment] = ()
    ) -> list[Attachment]:
        """The uploads (name, bytes) as the user's attachments, in order; `waiting`: files kept
        already that go with the same message (counted in its limits). Raises `InputError` (a file
        refused, naming it) or `StorageError`, with nothing kept."""
        if not uploads:
            return []
        if not self.enabled:
            raise InputError("Attachments are turned off here (PARLEY_ATTACHMENTS).")
        sizes = [(a.name, a.size) for a in waiting] + [(clean_name(name), len(data)) for name, data in uploads]
        check_message(sizes, self.limits)
        digests = [digest(data) for _, data in uploads]
        try:
            with self._sessions() as session:
                known = {
                    key: stored_files.as_attachment(row, "")
                    for key, row in stored_files.known(session, username, digests).items()
                }
        except SQLAlchemyError as error:
            raise StorageError(NOT_KEPT.format(reason=in_words(error))) from None
        taken: list[Attachment] = []
        new: dict[str, Prepared] = {}
        for (name, data), key in zip(uploads, digests, strict=True):
            found = known.get(key) or (new[key].attachment if key in new else None)
            if found is None:
                new[key] = prepare(name, data, self.limits)
                found = new[key].attachment
            taken.append(replace(found, name=clean_name(name)))
        self._keep(username, list(new.values()))
        return taken

    def _keep(self, username: str, prepared: list[Prepared]) -> None:
        try:
            with self._sessions.begin() as session:
                for item in prepared:
                    stored_files.keep(session, username, item.attachment, item.content)
        except SQLAlchemyError as error:
            log.error("could not keep attached files: %s", error_detail(error))
            raise StorageError(NOT_KEPT.format(reason=in_words(error))) from None

    def content(self, username: str, attachment: Attachment) -> Content | None:
        """A file's stored content, None if it is no longer kept."""
        with self._sessions() as session:
            return stored_files.contents(session, username, [attachment.digest]).get(attachment.digest)

    def thumbnail(self, username: str, attachment: Attachment, side: int) -> bytes | None:
        """A stored picture made small for the chat, made once per process (the last few hundred
        are kept); None if it is no longer kept or cannot be read."""
        key = (username, attachment.digest, side)
        with self._lock:
            if key in self._thumbnails:
                self._thumbnails.move_to_end(key)
                return self._thumbnails[key]
        try:
            content = self.content(username, attachment)
            made = thumbnail(content.data, side) if content is not None and content.data else None
        except (SQLAlchemyError, OSError, ValueError):
            return None
        with self._lock:
            self._thumbnails[key] = made
            while len(self._thumbnails) > THUMBNAILS_KEPT:
                self._thumbnails.popitem(last=False)
        return made
