"""Errors whose text is written for the person using Parley.

A `ChatError`'s message is a sentence that is safe to show in the page: it never
contains a secret, a traceback or a raw server payload. Anything that is not a
`ChatError` is a bug and is left to surface loudly.
"""

from __future__ import annotations


class ChatError(Exception):
    """A failure the user can understand and usually act on."""

    #: A short stable code stored with a failed reply (e.g. ``"auth"``, ``"timeout"``).
    kind: str = "error"

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def message(self) -> str:
        return str(self.args[0])


# The kind of the error a model that takes no pictures answers a prompt with pictures with: the page
# puts the prompt back in its box and its files above it (chat/ui/state.py).
IMAGES_REFUSED = "images_refused"


class ConfigError(ChatError):
    """The configuration (environment, `.env`, `auth.yaml`) cannot be used."""

    kind = "config"


class InputError(ChatError):
    """The user's input was refused before anything was sent."""

    kind = "input"


class UpstreamError(ChatError):
    """The model server failed or could not be reached."""

    kind = "upstream"


class StorageError(ChatError):
    """The conversation log could not be written or read."""

    kind = "storage"


class SignedOutError(ChatError):
    """The sign-in session the request was made under has ended."""

    kind = "signed_out"


class BusyError(ChatError):
    """Parley is writing as many replies as it may at once."""

    kind = "busy"
