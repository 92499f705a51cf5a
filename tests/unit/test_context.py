"""chat/domain/context.py and the planning of a request with files: what a prompt's files add to it,
documents cut fairly to fit, an earlier prompt's files left out before the prompt itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from chat.domain.attachments import Attachment, AttachmentKind, Content
from chat.domain.context import fit_documents, text_of, with_files
from chat.domain.messages import ChatMessage
from chat.domain.planning import plan_request
from chat.domain.tokens import TokenCounting
from chat.errors import InputError
from chat.llm.client import demo_reply

COUNTER = TokenCounting().counter("gpt-4o-mini")


def document(name: str, text: str) -> tuple[Attachment, Content]:
    return Attachment(f"d-{name}", name, AttachmentKind.DOCUMENT, "text/plain", len(text), chars=len(text)), Content(
        text=text
    )


def picture(name: str, side: int = 512) -> tuple[Attachment, Content]:
    attachment = Attachment(f"p-{name}", name, AttachmentKind.IMAGE, "image/png", 100, width=side, height=side)
    return attachment, Content(data=b"\x89PNG fake bytes")


def store(*files: tuple[Attachment, Content]):  # type: ignore[no-untyped-def]
    contents = {a.digest: c for a, c in files}
    read: list[str] = []

    def get(attachments: Sequence[Attachment]) -> Mapping[str, Content]:
        read.extend(a.name for a in attachments)
        return {a.digest: contents[a.digest] for a in attachments}

    return get, read


def test_a_prompt_with_files_is_documents_then_text_then_pictures() -> None:
    (doc, doc_text), (pic, pic_data) = document('a "quoted" name.md', "# Title"), picture("p.png")
    parts = with_files("Explain", [pic, doc], {doc.digest: doc_text, pic.digest: pic_data})
    assert parts.content == [
        {"type": "text", "text": '<document name="a &quot;quoted&quot; name.md">\n# Title\n</document>'},
        {"type": "text", "text": "Explain"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORyBmYWtlIGJ5dGVz"}},
    ]
    assert parts.image_tokens == 255
    assert text_of(parts.content) == '<document name="a &quot;quoted&quot; name.md">\n# Title\n</document>\nExplain'
    assert with_files("Plain", [], {}).content == "Plain"  # no files: a string, as before


def test_documents_share_the_room_evenly_and_a_small_one_is_kept_whole() -> None:
    small, long_a, long_b = (
        document("small.txt", "tiny"),
        document("a.txt", "alpha " * 2000),
        document("b.txt", "beta " * 2000),
    )
    contents = {d.digest: c for d, c in (small, long_a, long_b)}
    fitted, cut = fit_documents([small[0], long_a[0], long_b[0]], contents, COUNTER.text, 1000)

    assert fitted[small[0].digest].text == "tiny"
    a, b = fitted[long_a[0].digest].text, fitted[long_b[0].digest].text
    assert long_a[1].text.startswith(a) and long_b[1].text.startswith(b) and a and b
    assert abs(COUNTER.text(a) - COUNTER.text(b)) < 60  # evenly
    assert sum(COUNTER.text(f"<document>{t}</document>") for t in (a, b, "tiny")) <= 1000
    assert [sentence.split(" ")[0] for sentence in cut] == ["a.txt", "b.txt"]
    assert "the model read its first" in cut[0]


def test_the_newest_prompts_documents_are_cut_to_fit_and_its_pictures_never_are() -> None:
    doc = document("long.txt", "word " * 5000)
    pic = picture("p.png")
    get, _ = store(doc, pic)
    plan = plan_request([], "Summarise", "", COUNTER, 2000, attachments=[doc[0], pic[0]], contents=get)
    assert plan.tokens <= 2000 and plan.image_tokens == 255 and plan.cut and plan.cut[0].startswith("long.txt")
    with pytest.raises(InputError, match="Your message and its pictures"):
        plan_request([], "Summarise", "", COUNTER, 200, attachments=[pic[0]], contents=get)


def test_earlier_files_go_oldest_first_and_only_kept_turns_are_read() -> None:
    old, new, ancient = picture("old.png"), picture("new.png"), picture("ancient.png")
    get, read = store(old, new, ancient)
    history = [
        ChatMessage("user", "zero " * 400, attachments=(ancient[0],)),
        ChatMessage("assistant", "ok"),
        ChatMessage("user", "first", attachments=(old[0],)),
        ChatMessage("assistant", "ok"),
        ChatMessage("user", "second", attachments=(new[0],)),
        ChatMessage("assistant", "ok"),
    ]
    roomy = plan_request(history, "third", "", COUNTER, 10_000, contents=get)
    assert roomy.image_tokens == 3 * 255 and roomy.files_left_out == ()

    read.clear()
    plan = plan_request(history, "third", "", COUNTER, 400, contents=get)

    assert plan.image_tokens == 255 and plan.files_left_out == ("old.png",)
    assert plan.left_out == 2  # the first turn (400 words) did not fit even without its picture
    assert plan.messages[0]["content"] == "first\n\n[Files attached to this message, left out of this request: old.png]"
    assert read == ["new.png"]  # pictures that could not fit (by their size) were never read
    assert "old.png" in plan.notices()[0]


def test_the_offline_demo_model_quotes_the_prompt_alone_and_names_its_files() -> None:
    (doc, doc_text), (pic, pic_data) = document("notes.md", "secret words of the document"), picture("p.png")
    parts = with_files("Two words", [doc, pic], {doc.digest: doc_text, pic.digest: pic_data})
    reply = demo_reply([{"role": "user", "content": parts.content}])
    assert "You wrote 2 words" in reply and "> Two words" in reply and "secret words" not in reply
    assert "You attached 1 picture and 1 document" in reply
    assert "You attached" not in demo_reply([{"role": "user", "content": "Plain"}])


def test_an_earlier_document_that_cannot_fit_is_not_read() -> None:
    big = document("big.txt", "word " * 100_000)  # 500,000 characters: at least 15,625 tokens
    get, read = store(big)
    history = [ChatMessage("user", "read this", attachments=(big[0],)), ChatMessage("assistant", "done")]
    plan = plan_request(history, "and now?", "", COUNTER, 10_000, contents=get)
    assert read == [] and plan.files_left_out == ("big.txt",) and plan.left_out == 0
