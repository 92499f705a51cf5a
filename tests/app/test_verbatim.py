"""A prompt is shown exactly as typed (chat/ui/verbatim.py): in the chat, the edit form, History
and the admin's audited reader. No Markdown, no HTML, no image, no math; every space, tab and
line break kept."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import chat_texts, new_app, send, sign_in, verbatim_text
from tests.conftest import AppEnv
from tests.fake_openai import FakeOpenAI, FakeReply

# Pasted code: an indented first line, a tab, blank lines, a line of spaces; Markdown that would
# be eaten (emphasis, a heading, a list, a hard break), HTML, an image that would be fetched, math.
TYPED = (
    "    def f(a, b, c):\n"
    "        return a*b*c  # _x_ stays\n"
    "\n"
    "   \n"
    "\tTab\there\n"
    "# not a heading\n"
    "- not a list\n"
    "<b>bold</b> <img src=x onerror=alert(1)> &amp;\n"
    "![x](http://127.0.0.1:9/x.png)\n"
    "$x$ and $$y$$ \\(z\\)\n"
    "Line one  \n"
    "line two"
)


def verbatim_blocks(app: AppTest) -> list[str]:
    return [html.value for html in app.get("html") if "parley-verbatim" in html.value]


def test_a_prompt_is_shown_exactly_as_typed(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Reply with *emphasis*."))
    app = send(sign_in(new_app()), TYPED)
    assert not app.exception
    prompt, reply = app.chat_message
    assert chat_texts(app) == [("user", TYPED), ("assistant", "Reply with *emphasis*.")]
    # The prompt is one literal block, not Markdown; the reply is still Markdown.
    assert len(prompt.markdown) == 0 and len(prompt.get("html")) == 1 and len(reply.markdown) == 1
    [block] = verbatim_blocks(app)
    assert "white-space: pre-wrap" in block and "overflow-wrap: anywhere" in block
    assert "<b>" not in block and "<img" not in block and "&lt;b&gt;bold&lt;/b&gt;" in block
    assert "&amp;amp;" in block  # an entity typed is shown as typed, not decoded
    # The model got it as typed too, first line's indentation included.
    assert fake_openai.chat_requests[-1].body["messages"][-1] == {"role": "user", "content": TYPED}
    # Reopened from the log (a new session), it is the same.
    again = sign_in(new_app())
    again.query_params["c"] = app.query_params["c"]
    assert chat_texts(again.run())[0] == ("user", TYPED)


def test_the_edit_form_holds_the_prompt_as_typed(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="First."), FakeReply(text="Second."))
    app = send(sign_in(new_app()), TYPED)
    next(b for b in app.button if b.label == "Edit").click()
    app.run()
    box = next(box for box in app.text_area if box.label == "Edit your message")
    assert box.value == TYPED
    edited = TYPED.replace("Line one", "Line 1")
    box.input(edited)
    next(b for b in app.button if b.label == "Send").click()
    app.run()
    assert chat_texts(app) == [("user", edited), ("assistant", "Second.")]


def test_history_shows_a_prompts_words_as_typed_with_the_match_in_bold(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="Noted."))
    typed = "Look at a*b*c and _x_\n    indented <b>quokka</b> $x$"
    app = send(sign_in(new_app()), typed)
    app.switch_page("views/history.py").run()
    app.text_input(key="parley_search").input("quokka").run()
    [block] = verbatim_blocks(app)
    assert verbatim_text(block) == typed  # the whole prompt fits in its snippet
    assert "&lt;b&gt;<strong>quokka</strong>&lt;/b&gt;" in block  # the match in bold, the tags as text


def test_the_admin_reader_shows_a_prompt_as_typed(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Noted."))
    send(sign_in(new_app(), "alice"), TYPED)
    admin = sign_in(new_app(), "admin")
    admin.switch_page("views/admin.py").run()
    admin.selectbox(key="parley_audit_user").select("alice").run()
    next(b for b in admin.button if b.label.startswith("Open read-only")).click()
    admin.run()
    assert ("user", TYPED) in chat_texts(admin)
    assert len(verbatim_blocks(admin)) == 1
