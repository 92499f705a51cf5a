"""A document's text: plain text as it is, a PDF's by pypdf, a Word document's from its XML.

Each reader refuses what it cannot read honestly (a PDF behind a password, a scan without text)
and what is built to hurt: a PDF is read under pypdf's limits lowered, a page at a time, up to the
characters kept and a time limit; a .docx is a zip, so its members are read with a cap whatever their
headers claim (a zip bomb), its XML is read as a stream (no tree in memory) and may not declare a DTD
or entities (expansion bombs; expat 2.4 and later would also stop one by its amplification limit)."""

from __future__ import annotations

import io
import re
import time
import zipfile
from dataclasses import dataclass
from xml.parsers import expat

import pypdf

from chat.errors import InputError
from chat.files.kinds import FileType, decode_text

DOCX_XML_LIMIT = 50_000_000  # bytes of XML read from one .docx, uncompressed
PDF_PAGE_LIMIT = 2_000
PDF_SECONDS = 30.0  # reading one PDF's text stops there, with a sentence
# pypdf's limits (its defaults: 75 MB a stream, 300 MB of decoding work): a page's content is
# rarely more than a few MB, and a PDF whose pages share one enormous stream must not cost more.
PDF_LIMITS = {
    "zlib_maximum_output_length": 20_000_000,
    "lzw_maximum_output_length": 20_000_000,
    "run_length_maximum_output_length": 20_000_000,
    "stream_decoding_work_maximum_length": 60_000_000,
}
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main}"  # expat's "uri}name"
_PAGES = re.compile(rb"<(?:\w+:)?Pages>\s*([0-9]{1,6})\s*</")


@dataclass(frozen=True)
class Extracted:
    text: str
    pages: int | None = None


def extract_text(name: str, data: bytes, file_type: FileType, *, max_chars: int) -> Extracted:
    """The document's text, cut at `max_chars` (what is stored: the request takes what fits)."""
    if file_type is FileType.PDF:
        found = _pdf(name, data, max_chars)
    elif file_type is FileType.DOCX:
        found = _docx(name, data, max_chars)
    else:
        text = decode_text(data)
        if text is None:
            raise InputError(f"{name} is not text Parley can read (UTF-8 or UTF-16).")
        found = Extracted(text.replace("\r\n", "\n"))
    if not found.text.strip():
        scanned = " (a scanned document, perhaps: Parley reads text, not pictures of it)"
        raise InputError(f"{name} has no text to read{scanned if file_type is FileType.PDF else ''}.")
    return Extracted(found.text[:max_chars], found.pages)


def _pdf(name: str, data: bytes, max_chars: int) -> Extracted:
    try:
        with pypdf.apply_configuration(None, **PDF_LIMITS):
            reader = pypdf.PdfReader(io.BytesIO(data))
            # Encrypted with an empty password (restrictions only) opens; with a real one it does not.
            if reader.is_encrypted and not reader.decrypt(""):
                raise InputError(f"{name} is protected by a password. Remove the protection and attach it again.")
            return Extracted(_pdf_pages(name, reader, max_chars), len(reader.pages))
    except InputError:
        raise
    except Exception:  # noqa: BLE001 - a hostile PDF may make pypdf raise anything; it is a damaged file
        raise InputError(f"{name} could not be read as a PDF: it may be damaged.") from None


def _pdf_pages(name: str, reader: pypdf.PdfReader, max_chars: int) -> str:
    """The pages' text in order, up to `max_chars`, within `PDF_SECONDS`."""
    deadline = time.monotonic() + PDF_SECONDS
    texts: list[str] = []
    total = 0
    for page in reader.pages[:PDF_PAGE_LIMIT]:
        text = (page.extract_text() or "").strip()
        if text:
            texts.append(text)
            total += len(text) + 2
        if total >= max_chars:
            break
        if time.monotonic() > deadline:
            raise InputError(
                f"{name} takes too long to read (over {PDF_SECONDS:.0f} s): save it as text and attach that."
            )
    return "\n\n".join(texts)


def _docx(name: str, data: bytes, max_chars: int) -> Extracted:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "word/document.xml" not in names:
                raise InputError(f"{name} is a zip file, not a Word document (.docx).")
            body = _member(name, archive, "word/document.xml")
            properties = _member(name, archive, "docProps/app.xml") if "docProps/app.xml" in names else b""
    except InputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
        raise InputError(f"{name} could not be read as a Word document: it may be damaged.") from None
    found = _PAGES.search(properties)  # the page count Word saved (it does not lay pages out itself)
    return Extracted(_docx_text(name, body, max_chars), int(found.group(1)) if found else None)


def _member(name: str, archive: zipfile.ZipFile, member: str) -> bytes:
    """A member's bytes, never more than `DOCX_XML_LIMIT` whatever its header says."""
    with archive.open(member) as stream:
        data = stream.read(DOCX_XML_LIMIT + 1)
    if len(data) > DOCX_XML_LIMIT:
        raise InputError(f"{name} unpacks to more than {DOCX_XML_LIMIT // 1_000_000} MB of text: Parley stops there.")
    return data


class _Refused(Exception):
    pass


class _Enough(Exception):
    pass


def _docx_text(name: str, xml: bytes, max_chars: int) -> str:
    """The paragraphs' text (runs' text, tabs, breaks), read by expat as a stream: nothing but the
    text is kept, and a DTD or an entity declaration, in any encoding, stops it."""
    paragraphs: list[str] = []
    reader = _Paragraphs(paragraphs, max_chars)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.characters
    try:
        parser.Parse(xml, True)
    except _Refused:
        raise InputError(f"{name} declares XML entities, which Parley refuses in a Word document.") from None
    except _Enough:
        pass
    except expat.ExpatError:
        raise InputError(f"{name} could not be read as a Word document: its XML is damaged.") from None
    return "\n".join(paragraphs).strip()


def _refuse(*_: object) -> None:
    raise _Refused


class _Paragraphs:
    """expat's handlers: a paragraph's text collected until it ends."""

    def __init__(self, paragraphs: list[str], max_chars: int) -> None:
        self._paragraphs = paragraphs
        self._current: list[str] = []
        self._in_text = False
        self._left = max_chars

    def start(self, tag: str, _attributes: dict[str, str]) -> None:
        if tag == f"{_W}t":
            self._in_text = True
        elif tag == f"{_W}tab":
            self._current.append("\t")
        elif tag in (f"{_W}br", f"{_W}cr"):
            self._current.append("\n")

    def end(self, tag: str) -> None:
        if tag == f"{_W}t":
            self._in_text = False
        elif tag == f"{_W}p":
            text = "".join(self._current)
            self._current.clear()
            self._paragraphs.append(text)
            self._left -= len(text) + 1
            if self._left <= 0:
                raise _Enough

    def characters(self, data: str) -> None:
        if self._in_text:
            self._current.append(data)
