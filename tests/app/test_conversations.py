"""Conversations in the app: new, switch, rename, delete, and the id in the URL."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import chat_texts, new_app, send, sign_in, verbatim_text
from tests.conftest import ROOT, AppEnv
from tests.fake_openai import FakeOpenAI, FakeReply


def sidebar_titles(app: AppTest) -> list[str]:
    return [b.label for b in app.sidebar.button if b.key and b.key.startswith("parley_open_")]


def click(app: AppTest, key: str) -> AppTest:
    app.button(key=key).click()
    return app.run()


def open_by_title(app: AppTest, title: str) -> AppTest:
    button = next(b for b in app.sidebar.button if b.key and b.key.startswith("parley_open_") and b.label == title)
    button.click()
    return app.run()


def test_new_chat_switch_and_back(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Paris."), FakeReply(text="Madrid."), FakeReply(text="Rome."))
    app = send(sign_in(new_app()), "Capital of France?")
    first_id = app.query_params["c"]
    app = click(app, "parley_new_chat")
    assert chat_texts(app) == [] and "c" not in app.query_params
    app = send(app, "Capital of Spain?")
    second_id = app.query_params["c"]
    assert second_id != first_id
    assert sidebar_titles(app) == ["Capital of Spain?", "Capital of France?"]
    app = open_by_title(app, "Capital of France?")
    assert chat_texts(app) == [("user", "Capital of France?"), ("assistant", "Paris.")]
    assert app.query_params["c"] == first_id
    # The reopened conversation goes on, with its own history as context.
    app = send(app, "And Italy?")
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == ["Capital of France?", "Paris.", "And Italy?"]


def test_the_url_reopens_a_conversation_in_a_new_session(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Kept across reloads."))
    app = send(sign_in(new_app()), "Remember me")
    conversation = app.query_params["c"]
    reloaded = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
    reloaded.query_params["c"] = conversation
    reloaded = sign_in(reloaded.run())
    assert chat_texts(reloaded) == [("user", "Remember me"), ("assistant", "Kept across reloads.")]


def test_someone_elses_deleted_or_malformed_id_is_not_found(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Alice's private reply."))
    alice = send(sign_in(new_app(), "alice"), "Alice's private question")
    alices_id = alice.query_params["c"]
    shown = {}
    for label, conversation in {"other user's": alices_id, "malformed": "not-an-id", "missing": "f" * 32}.items():
        bob = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
        bob.query_params["c"] = conversation
        bob = sign_in(bob.run(), "bob")
        assert chat_texts(bob) == [], label
        assert sidebar_titles(bob) == []
        shown[label] = [e.value for e in bob.error]
    assert len(set(map(tuple, shown.values()))) == 1  # the same words for all three
    assert "not found" in shown["missing"][0]
    # Deleted: Alice deletes it, then her own link no longer opens it.
    alice = click(alice, f"parley_delete_{alices_id}")
    assert "retention period" in alice.warning[0].value
    alice = click(alice, f"parley_delete_confirm_{alices_id}")
    assert sidebar_titles(alice) == [] and chat_texts(alice) == []
    again = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
    again.query_params["c"] = alices_id
    again = sign_in(again.run(), "alice")
    assert chat_texts(again) == [] and [e.value for e in again.error] == shown["missing"]


def test_rename_and_cancelled_delete(app_env: AppEnv) -> None:
    app = send(sign_in(new_app()), "Untidy first prompt")
    conversation = app.query_params["c"]
    app.text_input(key=f"parley_title_{conversation}").input("Tidy title")
    app = click(app, f"parley_rename_{conversation}")
    assert sidebar_titles(app) == ["Tidy title"]
    app = click(app, f"parley_delete_{conversation}")
    app = click(app, f"parley_delete_cancel_{conversation}")
    assert sidebar_titles(app) == ["Tidy title"] and len(chat_texts(app)) == 2


def test_options_chosen_in_the_chat_screen_go_with_the_conversation(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    from tests.conftest import logged_messages

    app = sign_in(new_app())
    app.selectbox(key="parley_model_new").select("fake-model")
    app.text_area(key="parley_system_new").input("Talk like a pirate.")
    app.checkbox(key="parley_tdefault_new").uncheck()
    app.run()
    app.slider(key="parley_temp_new").set_value(0.2)
    app = send(app.run(), "Ahoy?")
    body = fake_openai.chat_requests[-1].body
    assert body["model"] == "fake-model" and body["temperature"] == 0.2
    assert body["messages"][0] == {"role": "system", "content": "Talk like a pirate."}
    reply = logged_messages(app_env.database_url)[-1]
    assert (reply.model, reply.system_prompt, reply.temperature) == ("fake-model", "Talk like a pirate.", 0.2)
    # A new chat starts from the defaults; going back restores the conversation's own options.
    first = app.query_params["c"]
    app = click(app, "parley_new_chat")
    assert app.selectbox(key="parley_model_new").value == "gpt-4o-mini"
    app = open_by_title(app, "Ahoy?")
    assert app.selectbox(key=f"parley_model_{first}").value == "fake-model"
    assert app.text_area(key=f"parley_system_{first}").value == "Talk like a pirate."


def test_history_search_opens_the_conversation_at_the_message(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    from tests.conftest import logged_messages

    fake_openai.enqueue(FakeReply(text="The *quokka* lives on Rottnest Island."))
    app = send(sign_in(new_app()), "Which animal smiles?")
    conversation = app.query_params["c"]
    reply_id = logged_messages(app_env.database_url)[-1].id
    app.switch_page("views/history.py").run()
    app.text_input(key="parley_search").input("ROTTNEST isl").run()
    [snippet] = [h.value for h in app.get("html") if "parley-verbatim" in h.value]
    assert "<strong>Rottnest</strong> <strong>Island</strong>" in snippet  # highlighted, else literal
    assert verbatim_text(snippet) == "The *quokka* lives on Rottnest Island."
    [link] = app.get("page_link")
    assert link.proto.query_string == f"c={conversation}&m={reply_id}"
    app.text_input(key="parley_search").input("rottnest penguin").run()
    assert "No messages match" in app.info[0].value
    # Following the link: the conversation opens with that message marked.
    opened = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
    opened.query_params.update({"c": conversation, "m": str(reply_id)})
    opened = sign_in(opened.run())
    assert "The message you found" in opened.chat_message[1].caption[0].value


def test_a_malformed_message_parameter_is_ignored(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    """`str.isdigit()` accepts '²' and other non-ASCII digits that `int()` refuses, and `int()` refuses
    more than 4,300 digits: none of them may reach the user as Streamlit's error page."""
    fake_openai.enqueue(FakeReply(text="Still here."))
    app = send(sign_in(new_app()), "Keep me")
    conversation = app.query_params["c"]
    for focus in ["²", "١٢", "9" * 5000, "-1", " 3", ""]:
        opened = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
        opened.query_params.update({"c": conversation, "m": focus})
        opened = sign_in(opened.run())
        assert not opened.exception, focus
        assert chat_texts(opened) == [("user", "Keep me"), ("assistant", "Still here.")], focus
        assert not any("The message you found" in c.value for c in opened.caption), focus
