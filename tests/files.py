"""Files for the attachment tests, made here rather than committed: pictures (with a location in their
EXIF), PDFs with and without text, encrypted ones, Word documents, and the hostile ones."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from PIL import Image
from pypdf import PdfReader, PdfWriter


def picture(
    width: int = 64, height: int = 48, *, fmt: str = "PNG", alpha: bool = False, gps: bool = False, orientation: int = 0
) -> bytes:
    image = Image.new("RGBA" if alpha else "RGB", (width, height), (200, 30, 30, 128) if alpha else (200, 30, 30))
    out = io.BytesIO()
    extra = {}
    if gps:
        exif = Image.Exif()
        exif[0x010F] = "PhoneMaker"  # Make
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS: Paris
        extra["exif"] = exif
    if orientation:
        exif = extra.get("exif") or Image.Exif()
        exif[0x0112] = orientation  # 6: the camera was turned; shown rotated 90 degrees clockwise
        extra["exif"] = exif
    image.save(out, fmt, **extra)
    return out.getvalue()


def giant_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A PNG whose header claims a huge bitmap: a few hundred bytes that would unpack to gigabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 1000))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")


def pdf(pages: list[str], *, padding: bytes = b"") -> bytes:
    """A PDF with one page per string, its text in Helvetica (empty strings: pages without text);
    `padding` goes in as a stream no page shows (the bulk a PDF's pictures would be)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    if padding:
        objects.append(b"<< /Length %d >>\nstream\n" % len(padding) + padding + b"\nendstream")
    kids = []
    font = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for text in pages:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
        stream = b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET" if text else b""
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content, font)
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(kids)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def encrypted_pdf(text: str, password: str = "secret-pdf-password") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf([text]))))
    writer.encrypt(user_password=password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def docx(paragraphs: list[str], *, pages: int | None = 2, document_xml: bytes | None = None) -> bytes:
    body = "".join(f"<w:p><w:r><w:t xml:space='preserve'>{p}</w:t></w:r></w:p>" for p in paragraphs)
    xml = (
        document_xml
        or (f"<?xml version='1.0'?><w:document xmlns:w='{W}'><w:body>{body}</w:body></w:document>").encode()
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", xml)
        if pages is not None:
            archive.writestr("docProps/app.xml", f"<Properties><Pages>{pages}</Pages></Properties>")
    return out.getvalue()


def docx_entity_bomb(encoding: str = "utf-8") -> bytes:
    entities = "".join(f'<!ENTITY e{i} "&e{i - 1};&e{i - 1};&e{i - 1};&e{i - 1};">' for i in range(1, 12))
    xml = (
        f"<?xml version='1.0'?><!DOCTYPE w:document [<!ENTITY e0 'laugh'>{entities}]>"
        f"<w:document xmlns:w='{W}'><w:body><w:p><w:r><w:t>&e11;</w:t></w:r></w:p></w:body></w:document>"
    )
    if encoding != "utf-8":
        xml = xml.replace("<?xml version='1.0'?>", f"<?xml version='1.0' encoding='{encoding}'?>")
    return docx([], document_xml=xml.encode(encoding))


def docx_zip_bomb(unpacked_mb: int = 80) -> bytes:
    """A .docx whose document.xml is a few hundred KB packed and `unpacked_mb` MB unpacked."""
    head = f"<?xml version='1.0'?><w:document xmlns:w='{W}'><w:body><w:p><w:r><w:t>".encode()
    return docx([], document_xml=head + b" " * (unpacked_mb * 1_000_000) + b"</w:t></w:r></w:p></w:body></w:document>")
