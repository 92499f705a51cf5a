"""A prompt's files on the page: pictures as thumbnails, documents as chips (name, size, pages); and
the files waiting above the prompt box to go with the next message, each with a remove button."""

from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st
from streamlit import config
from streamlit.delta_generator import DeltaGenerator

from chat.domain.attachments import Attachment, size_in_words
from chat.domain.messages import ChatMessage
from chat.settings import Settings
from chat.settings.attachments import MB
from chat.turns.service import ChatService
from chat.ui.markdown import plain
from chat.ui.state import ChatState, chat_state

THUMBNAIL_SIDE = 240  # pixels: the longer side of a picture shown in the chat
MEBIBYTE = 1024 * 1024  # Streamlit's upload limits count in these


def upload_limit(settings: Settings) -> int:
    """Streamlit's own limit on one upload (MiB, whole), made to follow PARLEY_ATTACHMENT_MAX_MB: its
    upload route refuses larger bodies (server.maxUploadSize), the chat input warns in the browser."""
    limit = max(1, math.ceil(settings.attachment_max_mb * MB / MEBIBYTE))
    if config.get_option("server.maxUploadSize") != limit:
        config.set_option("server.maxUploadSize", limit)
    return limit


def file_label(attachment: Attachment) -> str:
    """A document's chip: its name, size and pages."""
    pages = f" · {attachment.pages} page{'s' if attachment.pages != 1 else ''}" if attachment.pages else ""
    return f"{attachment.name} · {size_in_words(attachment.size)}{pages}"


# A stored picture made small for the page, None if it is no longer kept.
Pictures = Callable[[Attachment], bytes | None]


def pictures_of(service: ChatService, owner: str) -> Pictures:
    """The thumbnails of `owner`'s files (made once per process: `Files.thumbnail`)."""
    return lambda attachment: service.files.thumbnail(owner, attachment, THUMBNAIL_SIDE)


def draw_files(place: DeltaGenerator, message: ChatMessage, pictures: Pictures) -> None:
    """A prompt's files in one element of `place`: its pictures' thumbnails, then its documents."""
    if not message.attachments:
        place.empty()
        return
    with place.container(horizontal=True, gap="small"):
        for attachment in message.attachments:
            if attachment.is_image:
                picture = pictures(attachment)
                if picture is not None:
                    st.image(picture, caption=plain(attachment.name), width="content")  # captions are Markdown
                    continue
            st.markdown(f":material/description: {plain(file_label(attachment))}", width="content")


def waiting_chips(chat: ChatState) -> None:
    """The files kept for the next message, above the prompt box (Streamlit's bottom container).

    The container is drawn on every run, empty when there is nothing to show, so the prompt box
    after it keeps its place and no run leaves chips behind; a prompt about to be sent
    (`pending_prompt`) takes the files with it, so they are not drawn for its run."""
    with st.bottom, st.container(horizontal=True, gap="small", key="parley_waiting_files"):
        if chat.pending_prompt is not None:
            return
        for index, attachment in enumerate(chat.waiting_files):
            st.button(
                plain(attachment.name),
                key=f"parley_unattach_{index}_{attachment.digest[:12]}",
                icon=":material/close:",
                help=f"Remove {plain(attachment.name)}: it will not go with your message",
                on_click=_remove,
                args=(attachment.digest, attachment.name),
            )


def _remove(digest: str, name: str) -> None:
    chat = chat_state()  # the tab's own list: nothing of the log changes
    chat.waiting_files = [a for a in chat.waiting_files if (a.digest, a.name) != (digest, name)]
