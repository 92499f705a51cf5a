"""Attachments through the service: files taken once, tied to their prompt, sent as content parts
(checked at the fake server, which echoes them), kept with the conversation, carried by regenerate
and edit, fitted to the budget, and refused by a model that sees no pictures."""

from __future__ import annotations

import base64
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import attachments as stored_files
from chat.db.documents import import_document, user_export
from chat.db.retention import RetentionPolicy, purge
from chat.db.tables import FileContent, Message, MessageFile, utcnow
from chat.domain.attachments import Attachment
from chat.errors import InputError
from chat.ops.export import as_markdown
from chat.turns import files as files_module
from chat.turns.service import ChatService
from tests import files
from tests.conftest import service_with
from tests.fake_openai import FakeOpenAI, FakeReply, prompt_tokens

PHOTO = files.picture(3000, 2000, fmt="JPEG", gps=True)
REPORT = files.pdf(["The launch moves to March.", "Budget: 40,000 euros."])


def last_user_parts(fake: FakeOpenAI) -> list[dict[str, object]]:
    content = fake.chat_requests[-1].body["messages"][-1]["content"]
    assert isinstance(content, list)
    return content


def prompts_sent(fake: FakeOpenAI) -> list[dict[str, object]]:
    return [m for m in fake.chat_requests[-1].body["messages"] if m["role"] == "user"]


def picture_of(part: dict[str, object]) -> Image.Image:
    url = str(part["image_url"]["url"])  # type: ignore[index]
    header, _, data = url.partition(",")
    assert header == "data:image/jpeg;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def send(service: ChatService, attachments: list[Attachment], prompt: str = "What is in these?", **kwargs: object):  # type: ignore[no-untyped-def]
    turn = service.start_turn(
        username="alice", conversation_id=None, history=[], prompt=prompt, attachments=attachments, **kwargs
    )
    assert turn.wait(10)
    return turn


def test_a_picture_and_a_pdf_go_as_content_parts_and_the_model_gets_exactly_them(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    taken = service.files.take("alice", [("photo.jpg", PHOTO), ("report.pdf", REPORT)])
    fake_openai.enqueue(FakeReply(echo=True))

    turn = send(service, taken)

    assert turn.status == "complete"
    parts = last_user_parts(fake_openai)
    assert [part["type"] for part in parts] == ["text", "text", "image_url"]
    assert parts[0]["text"] == (
        '<document name="report.pdf" pages="2">\nThe launch moves to March.\n\nBudget: 40,000 euros.\n</document>'
    )
    assert parts[1]["text"] == "What is in these?"
    with picture_of(parts[2]) as sent:
        assert sent.size == (2048, 1365) and not sent.getexif()  # scaled down, no location
    assert turn.text.startswith("text: <document name=")
    image_bytes = len(base64.b64decode(str(parts[2]["image_url"]["url"]).split(",")[1]))  # type: ignore[index]
    assert turn.text.endswith(f"image: image/jpeg, {image_bytes} bytes")
    shown = service.open_conversation("alice", turn.conversation_id)
    assert [a.name for a in shown[0].attachments] == ["photo.jpg", "report.pdf"]
    assert shown[0].attachments[1].pages == 2 and shown[0].attachments[0].width == 2048


def test_a_file_sent_again_is_neither_stored_nor_read_twice(
    service: ChatService, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    real = files_module.prepare

    def counted(name: str, data: bytes, limits: files_module.Limits) -> files_module.Prepared:
        read.append(name)
        return real(name, data, limits)

    monkeypatch.setattr(files_module, "prepare", counted)
    first = service.files.take("alice", [("report.pdf", REPORT), ("again.pdf", REPORT)])
    second = service.files.take("alice", [("renamed.pdf", REPORT)])
    bob = service.files.take("bob", [("report.pdf", REPORT)])

    assert read == ["report.pdf", "report.pdf"]  # alice's once (twice in one message: once), bob's own once
    assert [a.name for a in first] == ["report.pdf", "again.pdf"] and second[0].name == "renamed.pdf"
    assert first[0].digest == second[0].digest == bob[0].digest
    with sessions() as session:
        owners = sorted(session.scalars(select(FileContent.username)))
    assert owners == ["alice", "bob"]  # one content per user: never shared between users


def test_regenerate_and_edit_keep_the_prompts_files(service: ChatService, fake_openai: FakeOpenAI) -> None:
    taken = service.files.take("alice", [("photo.jpg", PHOTO)])
    fake_openai.enqueue(FakeReply(echo=True), FakeReply(echo=True), FakeReply(echo=True))
    turn = send(service, taken, "Describe it")

    again = service.regenerate(username="alice", conversation_id=turn.conversation_id)
    assert again.wait(10)
    assert [p["type"] for p in last_user_parts(fake_openai)] == ["text", "image_url"]

    edited = service.edit_prompt(username="alice", conversation_id=turn.conversation_id, prompt="Describe it briefly")
    assert edited.wait(10) and edited.status == "complete"
    parts = last_user_parts(fake_openai)
    assert parts[0] == {"type": "text", "text": "Describe it briefly"} and parts[1]["type"] == "image_url"
    shown = service.open_conversation("alice", turn.conversation_id)
    assert shown[0].content == "Describe it briefly" and [a.name for a in shown[0].attachments] == ["photo.jpg"]


def test_earlier_prompts_files_go_with_later_requests_until_the_budget_is_full(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_CONTEXT_TOKENS="1500")
    old = service.files.take("alice", [("old.png", files.picture(512, 512))])
    new = service.files.take("alice", [("new.png", files.picture(300, 300, fmt="JPEG"))])
    first = send(service, old, "First picture")
    history = service.open_conversation("alice", first.conversation_id)
    second = service.start_turn(
        username="alice", conversation_id=first.conversation_id, history=history, prompt="Second", attachments=new
    )
    assert second.wait(10)
    # Both pictures fit (255 tokens each): the first prompt goes again with its picture.
    sent = prompts_sent(fake_openai)
    assert [p["type"] for p in sent[0]["content"]] == ["text", "image_url"]

    history = service.open_conversation("alice", first.conversation_id)
    third = service.start_turn(
        username="alice",
        conversation_id=first.conversation_id,
        history=history,
        prompt="Third " + "word " * 1000,  # about 1,000 tokens: room for one picture of 255 only
    )
    assert third.wait(10)
    sent = prompts_sent(fake_openai)
    assert sent[0]["content"] == "First picture\n\n[Files attached to this message, left out of this request: old.png]"
    assert [p["type"] for p in sent[1]["content"]] == ["text", "image_url"]  # the newer picture stays
    assert third.plan.files_left_out == ("old.png",)
    assert any("old.png" in notice for notice in third.notices)


def test_a_document_too_long_for_the_request_is_cut_and_the_chat_says_so(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_CONTEXT_TOKENS="1000")
    long = " ".join(f"word{i}" for i in range(3000)).encode()
    taken = service.files.take("alice", [("long.txt", long)])

    turn = send(service, taken, "Summarise")

    text = last_user_parts(fake_openai)[0]["text"]
    assert str(text).startswith('<document name="long.txt">\nword0 word1') and len(str(text)) < len(long) // 2
    assert turn.plan.tokens <= 1000
    assert turn.notices and turn.notices[0].startswith(
        "long.txt was too long for one request: the model read its first"
    )


def test_a_model_that_takes_no_pictures_is_named_and_the_turn_says_what_to_do(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.sees_images = False
    taken = service.files.take("alice", [("photo.jpg", PHOTO)])

    turn = send(service, taken)

    assert turn.status == "error" and turn.error is not None and turn.error.kind == "images_refused"
    assert "does not take pictures" in turn.error.message and "back in the input box" in turn.error.message


def test_files_refused_by_the_limits_leave_nothing_kept(service: ChatService, sessions: sessionmaker[Session]) -> None:
    with pytest.raises(InputError, match="scan.pdf has no text"):
        service.files.take("alice", [("good.txt", b"fine"), ("scan.pdf", files.pdf([""]))])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(FileContent)) == 0


@pytest.mark.both_engines
def test_contents_are_kept_per_user_and_purged_only_when_no_message_refers_to_them(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    used = service.files.take("alice", [("used.png", files.picture())])
    service.files.take("alice", [("dropped.txt", b"never sent")])
    turn = send(service, used)
    assert turn.status == "complete"
    with sessions.begin() as session:
        assert stored_files.drop_unreferenced(session, taken_before=utcnow() - timedelta(hours=1)) == 0  # too young
        assert stored_files.drop_unreferenced(session, taken_before=utcnow() + timedelta(seconds=1)) == 1
    with sessions() as session:
        assert [row.digest for row in session.scalars(select(FileContent))] == [used[0].digest]
        assert session.scalar(select(func.count()).select_from(MessageFile)) == 1
    assert service.open_conversation("alice", turn.conversation_id)[0].attachments == tuple(used)


@pytest.mark.both_engines
def test_the_purge_removes_a_files_content_with_the_last_message_that_refers_to_it(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    shared = service.files.take("alice", [("shared.png", files.picture())])
    alone = service.files.take("alice", [("alone.txt", b"only in the deleted conversation")])
    kept = send(service, shared, "Kept")
    gone = send(service, [*shared, *alone], "Deleted")
    service.chats.delete("alice", gone.conversation_id)
    policy = RetentionPolicy(retention_days=0, deleted_retention_days=0, login_window=timedelta(minutes=15))

    report = purge(sessions, policy, now=utcnow() + timedelta(days=2))

    assert report.deleted.conversations == 1 and report.files == 1
    with sessions() as session:
        assert [row.digest for row in session.scalars(select(FileContent))] == [shared[0].digest]
    assert service.open_conversation("alice", kept.conversation_id)[0].attachments == tuple(shared)


def test_export_and_import_carry_the_files_and_the_markdown_names_them(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    taken = service.files.take("alice", [("photo.jpg", PHOTO), ("report.pdf", REPORT)])
    turn = send(service, taken, "Look")
    document = user_export(sessions, "alice")
    assert set(document["files"]) == {a.digest for a in taken}  # each content once
    assert document["conversations"][0]["messages"][0]["files"] == [
        {"name": "photo.jpg", "digest": taken[0].digest},
        {"name": "report.pdf", "digest": taken[1].digest},
    ]
    assert "*Attached: photo.jpg, report.pdf*" in as_markdown(document["conversations"][0])

    [copy] = import_document(sessions, json.loads(json.dumps(document)), "bob")

    shown = service.open_conversation("bob", copy)[0].attachments
    assert [(a.name, a.kind, a.pages) for a in shown] == [("photo.jpg", "image", None), ("report.pdf", "document", 2)]
    # Filed under digests of their own: a later upload of the same PDF by bob is read, not matched to it.
    assert not {a.digest for a in shown} & {a.digest for a in taken}
    fake_openai.enqueue(FakeReply(echo=True))
    again = service.start_turn(username="bob", conversation_id=copy, history=[], prompt="And now?", attachments=())
    assert again.wait(10)
    sent = prompts_sent(fake_openai)[0]["content"]
    assert "The launch moves to March." in sent[0]["text"] and sent[2]["type"] == "image_url"
    assert turn.conversation_id != copy


def test_an_import_whose_picture_is_not_a_picture_imports_nothing(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    send(service, service.files.take("alice", [("photo.jpg", PHOTO)]), "Look")
    document = user_export(sessions, "alice")
    [digest] = document["files"]
    document["files"][digest]["data"] = base64.b64encode(b"MZ\x90\x00 not a picture").decode()

    with pytest.raises(InputError, match="could not be read as a picture"):
        import_document(sessions, document, "bob")
    assert service.conversations("bob") == []


@pytest.mark.both_engines
def test_history_search_finds_the_words_of_an_attached_document(service: ChatService, fake_openai: FakeOpenAI) -> None:
    turn = send(service, service.files.take("alice", [("plan.pdf", REPORT)]), "Read the plan")
    his = service.files.take("bob", [("his.pdf", files.pdf(["March for bob too"]))])
    bobs = service.start_turn(username="bob", conversation_id=None, history=[], prompt="Bob's", attachments=his)
    assert bobs.wait(10)
    with pytest.raises(InputError, match="his.pdf is no longer kept"):  # bob's files are not alice's to send
        send(service, his, "Not hers")

    hits = service.search("alice", "march")

    assert [(hit.conversation_id, hit.role) for hit in hits] == [(turn.conversation_id, "user")]
    assert hits[0].snippet.startswith("plan.pdf: ") and "\ue000March\ue001" in hits[0].snippet
    assert service.search("alice", "plan")[0].snippet.startswith("Read the")  # its own words first


def test_files_waiting_above_the_box_count_in_the_message_limit(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MESSAGE_ATTACHMENTS_MAX_MB="1")
    waiting = service.files.take("alice", [("a.txt", b"a" * 600_000)])
    with pytest.raises(InputError, match="PARLEY_MESSAGE_ATTACHMENTS_MAX_MB"):
        service.files.take("alice", [("b.txt", b"b" * 600_000)], waiting=waiting)
    assert service.files.take("alice", [("b.txt", b"b" * 600_000)])  # alone, it fits


def test_quotas_count_a_pictures_tokens_as_the_server_reports_them_or_as_estimated(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    taken = service.files.take("alice", [("photo.jpg", files.picture(512, 512, fmt="JPEG"))])
    reported = send(service, taken, "With usage")
    assert reported.prompt_tokens == prompt_tokens(fake_openai.chat_requests[-1].body)  # 100 a picture, the fake's
    fake_openai.enqueue(FakeReply(usage=False))
    estimated = send(service, taken, "Without usage")
    assert estimated.usage_estimated and estimated.prompt_tokens == estimated.plan.tokens
    assert estimated.plan.image_tokens == 255 and estimated.prompt_tokens > 255  # the picture's estimate counted
    with sessions() as session:
        logged = session.scalars(select(Message.prompt_tokens).where(Message.role == "assistant")).all()
    assert sorted(logged) == sorted([reported.prompt_tokens, estimated.prompt_tokens])  # what quotas add up


def test_what_a_request_cut_or_left_out_is_said_again_when_the_conversation_reopens(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_CONTEXT_TOKENS="1000")
    long = " ".join(f"word{i}" for i in range(3000)).encode()
    turn = send(service, service.files.take("alice", [("long.txt", long)]), "Summarise")

    reply = service.open_conversation("alice", turn.conversation_id)[-1]
    assert reply.notices == turn.plan.cut and reply.notices[0].startswith("long.txt was too long")
    assert user_export(sessions, "alice")["conversations"][0]["messages"][1]["notices"] == reply.notices[0]
