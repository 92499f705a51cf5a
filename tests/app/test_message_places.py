"""A message's six places (chat/ui/message.py): drawn in order (a settled message) they are the
same six elements, in the same order, as six placeholders written into (a streamed reply), so
either covers the other when a run draws one where the last run drew the other."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _both_ways() -> None:
    import streamlit as st

    from chat.domain.messages import ChatMessage
    from chat.domain.status import ReplyStatus
    from chat.ui.message import Places, draw_message

    messages = [
        ChatMessage(role="user", content="line one\n  line two"),
        ChatMessage(role="assistant", content="**Bold** reply", reasoning="Thought it over.", prompt_tokens=3),
        ChatMessage(role="assistant", content="", status=ReplyStatus.ERROR, error_message="The model server is down."),
        ChatMessage(role="assistant", content="Cut off", status=ReplyStatus.STOPPED, notices=("Shortened.",)),
    ]
    for way in ("placeholders", "in order"):
        for message in messages:
            box = st.chat_message(message.role)
            with box:
                places = Places.make() if way == "placeholders" else Places.in_order(box)
                if message.role == "user":
                    places.found.caption("found")  # a place claimed before the others
                draw_message(message, places, lambda attachment: None)
                places.actions.button("Act", key=f"{way}-{id(message)}")
                places.close()


def _shapes(app: AppTest) -> list[list[str]]:
    return [[child.type for child in message.children.values()] for message in app.chat_message]


def test_a_message_drawn_in_order_has_the_placeholders_shape() -> None:
    app = AppTest.from_function(_both_ways).run()
    assert not app.exception
    shapes = _shapes(app)
    placeholders, in_order = shapes[:4], shapes[4:]
    assert all(len(shape) == 6 for shape in shapes)
    assert in_order == placeholders
    # The text, ending and notes are where they belong: an error in the ending's place.
    assert placeholders[2][3] == "error" and placeholders[1][2] == "markdown"


def _out_of_order() -> None:
    import streamlit as st

    from chat.ui.message import Places

    box = st.chat_message("assistant")
    with box:
        places = Places.in_order(box)
        places.text.markdown("text")
        places.reasoning.markdown("too late")


def test_a_place_claimed_after_a_later_one_is_an_error() -> None:
    app = AppTest.from_function(_out_of_order).run()
    assert app.exception and "reasoning place" in app.exception[0].message


def test_the_admins_reader_draws_a_replaced_attempt_in_the_same_six_places(app_env, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from tests.app.test_accounts import submit
    from tests.apptest_helpers import new_app, send, sign_in
    from tests.fake_openai import FakeReply

    fake_openai.enqueue(FakeReply(text="First attempt."), FakeReply(text="Second attempt."))
    alice = send(sign_in(new_app(), "alice"), "Answer twice")
    alice.button(key="parley_regenerate").click().run()
    admin = sign_in(new_app(), "admin")
    admin.switch_page("views/admin.py").run()
    admin.selectbox(key="parley_audit_user").select("alice").run()
    admin = submit(admin, "Open read-only (recorded in the audit log)")
    assert "Replaced by a later attempt (regenerated or edited)." in [c.value for c in admin.caption]
    shapes = [len(message.children) for message in admin.chat_message]
    assert shapes == [6, 6, 6], shapes  # the prompt, the replaced reply, the reply
