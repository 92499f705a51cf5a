"""What a file is, read from its first bytes: never from its name or from what the browser said."""

from __future__ import annotations

import codecs
import enum


class FileType(enum.StrEnum):
    PNG = "image/png"
    JPEG = "image/jpeg"
    GIF = "image/gif"
    WEBP = "image/webp"
    PDF = "application/pdf"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    TEXT = "text/plain"

    @property
    def is_image(self) -> bool:
        return self in IMAGE_TYPES


IMAGE_TYPES = frozenset({FileType.PNG, FileType.JPEG, FileType.GIF, FileType.WEBP})

# The names the upload box offers (Streamlit filters by extension, in the browser only). Text covers
# Markdown, CSV, JSON and source code: all read as UTF-8 text, whatever the extension.
TEXT_EXTENSIONS = (
    *("txt", "md", "markdown", "csv", "tsv", "json", "jsonl", "yaml", "yml", "toml", "ini", "cfg", "log"),
    *("xml", "html", "css", "sql", "py", "js", "mjs", "ts", "tsx", "jsx", "java", "kt", "c", "h", "cc"),
    *("cpp", "hpp", "cs", "go", "rs", "rb", "php", "swift", "scala", "sh", "bash", "r", "m", "lua", "pl"),
)
EXTENSIONS = ("png", "jpg", "jpeg", "gif", "webp", "pdf", "docx", *TEXT_EXTENSIONS)

_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", FileType.PNG),
    (b"\xff\xd8\xff", FileType.JPEG),
    (b"GIF87a", FileType.GIF),
    (b"GIF89a", FileType.GIF),
    (b"PK\x03\x04", FileType.DOCX),  # a zip: documents.py checks that it is a Word document
)


def sniff(data: bytes) -> FileType | None:
    """The file's type by its content, None for anything Parley does not take."""
    found = next((kind for magic, kind in _MAGIC if data.startswith(magic)), None)
    if found is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        found = FileType.WEBP
    if found is None and b"%PDF-" in data[:1024]:  # the format allows a little junk before the header
        found = FileType.PDF
    if found is None and decode_text(data) is not None:
        found = FileType.TEXT
    return found


def decode_text(data: bytes) -> str | None:
    """The bytes as text (UTF-8, or UTF-16 with its byte order mark), None if they are not text."""
    if data.startswith(_BOMS[1:]):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    # Control characters other than tab, line feed, carriage return and form feed: a binary file.
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text[:100_000]):
        return None
    return text
