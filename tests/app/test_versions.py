"""Versions on the page (issue 20, point 3): "2 / 3" on a regenerated reply and an edited prompt,
choosing one, and editing a prompt that is not the last."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import chat_texts, new_app, send, sign_in
from tests.conftest import AppEnv, logged_messages
from tests.fake_openai import FakeOpenAI, FakeReply


def ids_of(env: AppEnv) -> dict[str, int]:
    return {m.content: m.id for m in logged_messages(env.database_url)}


def arrow(app: AppTest, message_id: int, step: int):  # type: ignore[no-untyped-def]
    return app.button(key=f"parley_version_{message_id}_{step}")


def test_a_regenerated_reply_shows_its_versions_and_choosing_one_shows_it(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="Answer one."), FakeReply(text="Answer two."), FakeReply(text="Next."))
    app = send(sign_in(new_app()), "Question?")
    app.button(key="parley_regenerate").click().run()
    ids = ids_of(app_env)
    two, one = ids["Answer two."], ids["Answer one."]
    assert arrow(app, two, -1).proto.label == "Previous version" and not arrow(app, two, -1).disabled
    assert arrow(app, two, 1).disabled  # the newest: nothing after it

    arrow(app, two, -1).click().run()

    assert chat_texts(app) == [("user", "Question?"), ("assistant", "Answer one.")]
    assert arrow(app, one, 1).disabled is False and arrow(app, one, -1).disabled
    # The next prompt builds on the version shown.
    app = send(app, "And then?")
    assert [m["content"] for m in fake_openai.chat_requests[-1].body["messages"][1:]] == [
        "Question?",
        "Answer one.",
        "And then?",
    ]


def test_an_earlier_prompt_is_edited_and_its_first_version_comes_back_with_its_conversation(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="A1."), FakeReply(text="A2."), FakeReply(text="A1 again."))
    app = send(send(sign_in(new_app()), "Q1"), "Q2")
    q1 = ids_of(app_env)["Q1"]

    app.button(key=f"parley_edit_{q1}").click().run()
    app.text_area(key=f"parley_edit_text_{q1}").input("Q1, better")
    app.button(key=f"FormSubmitter:parley_edit_form_{q1}-Send").click().run()

    assert chat_texts(app) == [("user", "Q1, better"), ("assistant", "A1 again.")]
    assert [m["content"] for m in fake_openai.chat_requests[-1].body["messages"][1:]] == ["Q1, better"]
    better = ids_of(app_env)["Q1, better"]
    arrow(app, better, -1).click().run()
    assert chat_texts(app) == [("user", "Q1"), ("assistant", "A1."), ("user", "Q2"), ("assistant", "A2.")]
    # Reopened in a new session, the version chosen is the one shown.
    again = sign_in(new_app())
    again.query_params["c"] = app.query_params["c"]
    assert [text for _, text in chat_texts(again.run())] == ["Q1", "A1.", "Q2", "A2."]


def test_an_edit_that_cannot_be_sent_says_why_under_the_form_and_keeps_the_text(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="A1."))
    app = send(sign_in(new_app()), "Q1")
    q1 = ids_of(app_env)["Q1"]
    app.button(key=f"parley_edit_{q1}").click().run()
    app.text_area(key=f"parley_edit_text_{q1}").input("   ")
    app.button(key=f"FormSubmitter:parley_edit_form_{q1}-Send").click().run()
    assert [e.value for e in app.error] == ["The message is empty: type something, or cancel."]
    app.button(key=f"FormSubmitter:parley_edit_form_{q1}-Cancel").click().run()
    assert chat_texts(app) == [("user", "Q1"), ("assistant", "A1.")] and not app.error


def test_each_prompt_s_edit_box_holds_that_prompt(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="A1."), FakeReply(text="A2."))
    app = send(send(sign_in(new_app()), "Q1"), "Q2")
    ids = ids_of(app_env)
    app.button(key=f"parley_edit_{ids['Q1']}").click().run()
    assert app.text_area(key=f"parley_edit_text_{ids['Q1']}").value == "Q1"
    app.button(key=f"FormSubmitter:parley_edit_form_{ids['Q1']}-Cancel").click().run()
    app.button(key=f"parley_edit_{ids['Q2']}").click().run()
    assert app.text_area(key=f"parley_edit_text_{ids['Q2']}").value == "Q2"
