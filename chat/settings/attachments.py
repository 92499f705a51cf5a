"""The settings of attachments (issue 22): pictures and documents sent with a prompt. Declared apart
from the rest of `Settings`, which takes them in; their defaults fit a demo."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

MB = 1_000_000


class AttachmentSettings(BaseSettings):
    """One field per variable, as in `Settings`."""

    attachments: bool = Field(
        True, validation_alias="PARLEY_ATTACHMENTS", description="Whether prompts may carry files (on by default)."
    )
    attachment_max_mb: float = Field(
        10.0,
        gt=0,
        le=200,
        validation_alias="PARLEY_ATTACHMENT_MAX_MB",
        description="The largest file, in MB (Streamlit's own upload limit follows it).",
    )
    message_attachments_max_mb: float = Field(
        20.0,
        gt=0,
        le=200,
        validation_alias="PARLEY_MESSAGE_ATTACHMENTS_MAX_MB",
        description="What the files of one message may come to, in MB.",
    )
    image_max_side: int = Field(
        2048,
        ge=64,
        le=8192,
        validation_alias="PARLEY_IMAGE_MAX_SIDE",
        description="A picture's longer side is scaled down to this many pixels before it is kept and sent.",
    )
    image_max_megapixels: float = Field(
        40.0,
        gt=0,
        le=89,  # above that Pillow's own bomb check (89.5 million pixels) refuses the picture anyway
        validation_alias="PARLEY_IMAGE_MAX_MEGAPIXELS",
        description="Pictures larger than this (in millions of pixels, once unpacked) are refused.",
    )
    document_max_chars: int = Field(
        2_000_000,
        ge=1000,
        validation_alias="PARLEY_DOCUMENT_MAX_CHARS",
        description="A document's text is kept up to this many characters (a request takes what fits its budget).",
    )
