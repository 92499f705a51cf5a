"""Attachments in the chat under AppTest: files sent with a prompt and shown with it, a refused file
named with the text kept, a model that sees no pictures, the files waiting above the box."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session
from streamlit import config

from chat.db.tables import FileContent, MessageFile
from tests import files
from tests.app.test_accounts import submit
from tests.app.test_chat import prompt_box
from tests.apptest_helpers import chat_texts, message_texts, new_app, send, sign_in
from tests.conftest import AppEnv
from tests.fake_openai import FakeOpenAI, FakeReply

PHOTO = files.picture(800, 600, fmt="JPEG")
NOTES = files.pdf(["Meeting notes: ship on Friday."])


def rows(env: AppEnv, table: type[FileContent] | type[MessageFile]) -> int:
    engine = create_engine(env.database_url)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(table)) or 0
    engine.dispose()
    return count


def test_a_picture_and_a_pdf_go_with_the_prompt_and_stay_with_it(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(echo=True))
    app = sign_in(new_app())
    assert app.chat_input[0].proto.accept_file  # the box takes files
    app = send(app, "What do these say?", [("whiteboard.jpg", PHOTO), ("notes.pdf", NOTES)])

    parts = fake_openai.chat_requests[-1].body["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["text", "text", "image_url"]
    assert "Meeting notes: ship on Friday." in parts[0]["text"] and parts[1]["text"] == "What do these say?"
    prompt = app.chat_message[0]
    assert [image.captions for image in prompt.get("image")] == [["whiteboard\\.jpg"]]  # Markdown: escaped
    assert any(f"notes.pdf · {len(NOTES)} bytes · 1 page" in m.value.replace("\\", "") for m in prompt.markdown)
    assert rows(app_env, FileContent) == 2 and rows(app_env, MessageFile) == 2

    # Opened again in another session, the prompt still shows its files.
    again = new_app()
    again.query_params["c"] = app.query_params["c"]
    again = sign_in(again)
    shown = again.chat_message[0]
    assert message_texts(shown)[-1] == "What do these say?"
    assert [image.captions for image in shown.get("image")] == [["whiteboard\\.jpg"]]
    assert any("notes.pdf" in m.value.replace("\\", "") for m in shown.markdown)


def test_a_refused_file_is_named_its_text_kept_and_nothing_sent(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    app = sign_in(new_app())
    app = send(app, "Read this please", [("locked.pdf", files.encrypted_pdf("secret plans"))])

    assert any("locked.pdf is protected by a password" in e.value for e in [*app.error, *app.warning, *app.info])
    assert prompt_box(app) == "Read this please"
    assert fake_openai.chat_requests == [] and rows(app_env, FileContent) == 0


def test_a_model_that_sees_no_pictures_gives_the_text_back_and_the_files_wait_above_the_box(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    fake_openai.sees_images = False
    app = sign_in(new_app())
    app = send(app, "Describe this", [("photo.jpg", PHOTO)])

    assert any("does not take pictures" in e.value for e in app.error)
    assert prompt_box(app) == "Describe this"
    chips = [b for b in app.button if b.key and b.key.startswith("parley_unattach_")]
    assert [chip.label for chip in chips] == ["photo\\.jpg"]

    chips[0].click().run()  # removed: the next message goes without it
    assert not [b for b in app.button if b.key and b.key.startswith("parley_unattach_")]
    fake_openai.enqueue(FakeReply(echo=True))
    app = send(app, "Describe this, in words")  # the same text-only model: no picture goes now
    assert not app.error
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["Describe this, in words"]
    # The refused prompt and its error left the branch (kept in the log as a version of the prompt).
    assert [text for _, text in chat_texts(app)][0] == "Describe this, in words"
    assert len(app.chat_message) == 2


def test_streamlits_upload_limit_follows_the_setting_and_attachments_can_be_turned_off(
    app_env: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_ATTACHMENT_MAX_MB", "3")
    app = sign_in(new_app())
    box = app.chat_input[0].proto
    assert box.accept_file and box.max_upload_size_mb == 3 and ".pdf" in box.file_type
    assert config.get_option("server.maxUploadSize") == 3  # the upload route refuses a larger body

    monkeypatch.setenv("PARLEY_ATTACHMENTS", "false")
    assert not sign_in(new_app()).chat_input[0].proto.accept_file


def test_the_admins_audited_reader_shows_a_prompts_files(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    send(sign_in(new_app(), "alice"), "See attached", [("chart.png", files.picture(300, 200)), ("notes.pdf", NOTES)])
    admin = sign_in(new_app(), "admin")
    admin.switch_page("views/admin.py").run()
    admin.selectbox(key="parley_audit_user").select("alice").run()
    submit(admin, "Open read-only (recorded in the audit log)")

    prompt = next(m for m in admin.chat_message if m.name == "user")
    assert message_texts(prompt)[-1] == "See attached"
    assert [image.captions for image in prompt.get("image")] == [["chart\\.png"]]  # alice's picture, for the admin
    assert any("notes.pdf" in m.value.replace("\\", "") for m in prompt.markdown)
