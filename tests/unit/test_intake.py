"""chat/files/: an upload's type read from its bytes, pictures re-encoded small and without metadata,
documents' text, and every hostile or broken file refused with a sentence that names it."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from chat.domain.attachments import AttachmentKind, image_tokens
from chat.errors import InputError
from chat.files.intake import Limits, check_message, digest, prepare
from chat.files.kinds import FileType, sniff
from tests import files

LIMITS = Limits(
    file_bytes=5_000_000, message_bytes=8_000_000, image_side=1024, image_pixels=40_000_000, document_chars=10_000
)


def refused(name: str, data: bytes, limits: Limits = LIMITS) -> str:
    with pytest.raises(InputError) as caught:
        prepare(name, data, limits)
    assert name.rsplit("/", 1)[-1] in caught.value.message or "files" in caught.value.message
    return caught.value.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (files.picture(fmt="PNG"), FileType.PNG),
        (files.picture(fmt="JPEG"), FileType.JPEG),
        (files.picture(fmt="GIF"), FileType.GIF),
        (files.picture(fmt="WEBP"), FileType.WEBP),
        (files.pdf(["x"]), FileType.PDF),
        (files.docx(["x"]), FileType.DOCX),
        ("naïve, café\n".encode(), FileType.TEXT),
        ("utf-16 text".encode("utf-16"), FileType.TEXT),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", None),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),
        (b"caf\xe9 latin-1", None),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, expected: FileType | None) -> None:
    assert sniff(data) == expected


def test_a_file_named_as_text_but_binary_is_refused_and_a_picture_named_txt_is_a_picture() -> None:
    assert "is not a file Parley takes" in refused("notes.txt", b"\x7fELF\x02\x01\x01" + bytes(200))
    assert prepare("holiday.txt", files.picture(), LIMITS).attachment.kind is AttachmentKind.IMAGE


def test_a_photo_is_scaled_down_turned_upright_and_stripped_of_its_location() -> None:
    original = files.picture(4000, 3000, fmt="JPEG", gps=True)
    assert b"PhoneMaker" in original  # the control: the metadata is there to strip
    made = prepare("IMG_0001.jpg", original, LIMITS)
    assert made.attachment.digest == digest(original) and made.attachment.size == len(original)
    assert (made.attachment.width, made.attachment.height) == (1024, 768)
    with Image.open(io.BytesIO(made.content.data)) as stored:
        assert stored.format == "JPEG" and stored.size == (1024, 768)
        assert not stored.getexif() and "exif" not in stored.info
    assert b"PhoneMaker" not in made.content.data
    assert made.attachment.media_type == "image/jpeg"


def test_a_photo_taken_sideways_is_stored_upright() -> None:
    made = prepare("portrait.jpg", files.picture(400, 300, fmt="JPEG", orientation=6), LIMITS)
    assert (made.attachment.width, made.attachment.height) == (300, 400)


def test_a_picture_with_transparency_stays_png_and_a_small_one_keeps_its_size() -> None:
    made = prepare("logo.png", files.picture(300, 200, alpha=True), LIMITS)
    assert made.attachment.media_type == "image/png"
    with Image.open(io.BytesIO(made.content.data)) as stored:
        assert stored.mode == "RGBA" and stored.size == (300, 200)


def test_pictures_that_would_unpack_to_enormous_bitmaps_are_refused_before_decoding() -> None:
    assert "million" in refused("big.png", files.giant_png(8_000, 6_000))  # 48 MP: over the 40 MP setting
    assert "too large to open" in refused("bomb.png", files.giant_png(60_000, 60_000))


def test_a_damaged_picture_is_refused() -> None:
    assert "damaged" in refused("cut.jpg", files.picture(400, 300, fmt="JPEG")[:300])


def test_a_pdf_gives_its_text_and_pages() -> None:
    made = prepare("report.pdf", files.pdf(["Quarterly figures", "Page two says more"]), LIMITS)
    assert made.attachment.kind is AttachmentKind.DOCUMENT and made.attachment.pages == 2
    assert made.content.text == "Quarterly figures\n\nPage two says more"
    assert made.attachment.chars == len(made.content.text)


def test_pdfs_without_text_with_a_password_or_damaged_are_refused() -> None:
    assert "scanned" in refused("scan.pdf", files.pdf(["", ""]))
    assert "password" in refused("locked.pdf", files.encrypted_pdf("hidden words"))
    assert "damaged" in refused("broken.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 4)


def test_a_word_document_gives_its_paragraphs_and_pages() -> None:
    made = prepare("minutes.docx", files.docx(["First point", "Second point"], pages=3), LIMITS)
    assert made.content.text == "First point\nSecond point" and made.attachment.pages == 3


def test_word_documents_built_to_hurt_are_refused() -> None:
    assert "entities" in refused("laughs.docx", files.docx_entity_bomb())
    assert "entities" in refused("laughs16.docx", files.docx_entity_bomb("utf-16"))  # no byte pattern to miss
    assert "unpacks to more than" in refused("zip-bomb.docx", files.docx_zip_bomb(60))
    assert "not a Word document" in refused("archive.docx", _zip_without_document())


def test_a_word_documents_page_count_is_taken_only_when_it_is_a_plain_number() -> None:
    made = prepare("odd.docx", files.docx(["Text"], pages=None), LIMITS)
    assert made.attachment.pages is None
    odd = files.docx(["Text"], pages=None)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(odd)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("docProps/app.xml", "<Properties><Pages>\u00b2</Pages></Properties>")
    assert prepare("odd.docx", out.getvalue(), LIMITS).attachment.pages is None  # "²" is a digit to isdigit()


def test_text_keeps_its_shape_and_is_cut_at_the_stored_limit() -> None:
    code = "def f(x):\r\n    return x * 2\r\n"
    assert prepare("f.py", code.encode(), LIMITS).content.text == "def f(x):\n    return x * 2\n"
    long = prepare("long.csv", b"a,b\n" * 5000, LIMITS)
    assert long.attachment.chars == LIMITS.document_chars == len(long.content.text)


def test_sizes_are_checked_per_file_and_per_message_naming_the_setting() -> None:
    assert "PARLEY_ATTACHMENT_MAX_MB" in refused("huge.txt", b"x" * 5_000_001)
    with pytest.raises(InputError, match="PARLEY_MESSAGE_ATTACHMENTS_MAX_MB"):
        check_message([("a.pdf", 4_000_000), ("b.pdf", 4_000_001)], LIMITS)
    with pytest.raises(InputError, match="10 files at most"):
        check_message([(f"{i}.txt", 1) for i in range(11)], LIMITS)


def test_a_name_is_a_label_only() -> None:
    made = prepare("../../etc/\x1bpasswd.txt", b"hello", LIMITS)
    assert made.attachment.name == "passwd.txt"


def test_an_image_costs_tokens_as_openai_counts_them() -> None:
    assert image_tokens(512, 512) == 85 + 170  # one tile
    assert image_tokens(1024, 768) == 85 + 170 * 4  # 768 on the short side: 2 x 2 tiles
    assert image_tokens(4000, 3000) == image_tokens(1024, 768)  # scaled down first


def _zip_without_document() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "not word")
    return out.getvalue()
