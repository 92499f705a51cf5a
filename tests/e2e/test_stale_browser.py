"""No ghosts (issue 19, point 2): no element of an earlier run stays on screen long enough for
Streamlit to fade it, on every path of a turn; a reply's ending and actions appear when it ends
or stops; one Stop control while a reply streams, none after.

The watch itself (`tests/e2e/stale.py`) is tested first, on elements made stale on purpose.
"""

from __future__ import annotations

import pytest

from chat.ui.conversation import SHOWN
from chat.ui.turn_slots import TURN_SLOTS
from tests.e2e.conftest import Server
from tests.e2e.stale import FADE_MS, assert_no_ghosts, ghosts, page_now, stale_records, watch_stale
from tests.e2e.test_browser import (
    MESSAGES,
    reply_settled,
    run_ended_after,
    run_over,
    runs_ended,
    send,
    sign_in,
    watch_runs,
)
from tests.fake_openai import FakeReply

pytestmark = pytest.mark.browser

# Every visible control that stops a reply: the chat input's stop button (a run is under way)
# and any button named Stop.
STOP_CONTROLS = """() => {
    const shown = (el) => {
        const box = el.getBoundingClientRect();
        return box.width > 0 && box.height > 0 && el.checkVisibility({ visibilityProperty: true });
    };
    const stops = [...document.querySelectorAll("button")].filter((b) => {
        const name = b.getAttribute("aria-label") || b.innerText || "";
        return b.matches("[data-testid='stChatInputStopButton']") || /\\bStop\\b/.test(name);
    });
    const where = (b) => b.parentElement
        .closest("[data-testid]:not([data-testid='stElementContainer'])")?.getAttribute("data-testid");
    const named = (b) => (b.getAttribute("aria-label") || b.innerText.replace(/\\s+/g, " ").trim()) + " in " + where(b);
    return stops.filter(shown).map(named);
}"""

# While the reply streams (until `last` is on screen): the first moment the count of visible
# Stop controls is not one, or "done" once the whole reply is there.
ONE_STOP_UNTIL = (
    """([last]) => {
    const messages = document.querySelectorAll("[data-testid='stChatMessage']");
    if (messages.length && messages[messages.length - 1].innerText.includes(last)) return "done";
    const shown = ("""
    + STOP_CONTROLS
    + """)();
    return shown.length === 1 ? false : { shown, text: messages[messages.length - 1]?.innerText.slice(-60) };
}"""
)


def words(stem: str, count: int) -> str:
    return " ".join(f"{stem}{i}" for i in range(count))


def signed_in(page, server: Server, username: str) -> None:  # type: ignore[no-untyped-def]
    """Signed in with the stale watch and the run watch installed, the first run over."""
    watch_stale(page)
    watch_runs(page)
    sign_in(page, server, username)
    run_ended_after(page, 0)


def settled_turn(page, server: Server, prompt: str, reply: str) -> None:  # type: ignore[no-untyped-def]
    """A whole turn, its actions drawn and its runs over: what the next path starts from."""
    server.fake.enqueue(FakeReply(text=reply, delay=0.005))
    ended = runs_ended(page)
    send(page, prompt)
    page.locator(MESSAGES).last.get_by_text(reply.split()[-1]).wait_for()
    reply_settled(page)
    run_ended_after(page, ended)


def all_settled(page, ended: int) -> None:  # type: ignore[no-untyped-def]
    reply_settled(page)
    run_ended_after(page, ended)


def stop_controls(page) -> list[str]:  # type: ignore[no-untyped-def]
    return list(page.evaluate(STOP_CONTROLS))


def one_stop_while_streaming(page, last: str) -> None:  # type: ignore[no-untyped-def]
    seen = page.wait_for_function(ONE_STOP_UNTIL, arg=[last], timeout=30_000).json_value()
    assert seen == "done", f"while the reply streamed, visible Stop controls were {seen}"


# The watch itself -----------------------------------------------------------------------------

# Elements made stale on purpose, each for a time counted by the page's own timer.
MAKE_STALE = """([label, ms, how]) => new Promise((resolve) => {
    const el = document.createElement("div");
    el.setAttribute("data-testid", "parleyProbe");
    el.textContent = label;
    el.style.cssText = "width: 200px; overflow: hidden;" + (how === "hidden" ? "display: none;" : "")
        + (how === "filled" ? "height: 0;" : "height: 20px;");
    if (how === "born stale") el.setAttribute("data-stale", "true");
    document.body.appendChild(el);
    el.setAttribute("data-stale", "true");
    // Seen briefly, then kept in the page hidden and stale, as Streamlit keeps a widget it retains.
    if (how === "hides") setTimeout(() => { el.style.display = "none"; }, 100);
    setTimeout(() => {
        if (how === "filled") {  // filled and marked fresh at once, as React commits a new element
            el.style.height = "20px";
            el.setAttribute("data-stale", "false");
        } else if (how === "removed") el.remove();
        else if (how !== "kept") el.setAttribute("data-stale", "false");
        resolve();
    }, ms);
})"""

# A real Streamlit element, marked stale for 600 ms, then as React leaves it.
MAKE_REAL_STALE = """() => new Promise((resolve) => {
    const el = document.querySelector("[data-testid='stSidebar'] [data-testid='stElementContainer']");
    el.setAttribute("data-stale", "true");
    setTimeout(() => { el.setAttribute("data-stale", "false"); resolve(el.innerText.trim()); }, 600);
})"""


def test_the_watch_catches_what_stays_stale_and_only_that(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "alice")
    assert_no_ghosts(page, "the first run")
    page.evaluate(MAKE_STALE, ["ghost unstaled", 600, "unstaled"])
    page.evaluate(MAKE_STALE, ["ghost removed", 600, "removed"])
    page.evaluate(MAKE_STALE, ["ghost born stale", 600, "born stale"])
    page.evaluate(MAKE_STALE, ["brief", 200, "unstaled"])
    page.evaluate(MAKE_STALE, ["hidden", 600, "hidden"])
    page.evaluate(MAKE_STALE, ["filled", 600, "filled"])
    page.evaluate(MAKE_STALE, ["hides", 700, "hides"])
    page.evaluate(MAKE_STALE, ["ghost kept", 0, "kept"])
    kept = page.wait_for_function(
        "() => window.parleyStale.records.find((r) => r.text === 'ghost kept' && performance.now() - r.start >= "
        f"{FADE_MS})"
    )
    assert kept
    sidebar_text = page.evaluate(MAKE_REAL_STALE)

    found = {record["text"]: record for record in ghosts(page) if record["testid"] == "parleyProbe"}
    assert sorted(found) == ["ghost born stale", "ghost kept", "ghost removed", "ghost unstaled"]
    assert all(record["ms"] >= 600 for text, record in found.items() if text != "ghost kept")
    assert found["ghost kept"]["still"] and not found["ghost removed"]["still"]
    every = {record["text"]: record for record in stale_records(page)}
    assert every["brief"]["visible"] and 150 <= every["brief"]["ms"] < FADE_MS  # seen, and too short
    assert not every["hidden"]["visible"] and every["hidden"]["ms"] >= 600  # long, and never on screen
    assert not every["filled"]["visible"] and every["filled"]["ms"] >= 600  # empty while stale, filled as fresh
    assert every["hides"]["ms"] >= 700 and 50 <= every["hides"]["shownMs"] < FADE_MS  # on screen 100 ms of it
    real = [r for r in ghosts(page) if r["testid"] == "stElementContainer"]
    assert [(r["text"], r["ms"] >= 600) for r in real] == [(" ".join(sidebar_text.split())[:80], True)]
    with pytest.raises(AssertionError, match="visible element.* stale >= 500 ms") as failure:
        assert_no_ghosts(page, "on purpose")
    assert "parleyProbe 'ghost kept'" in str(failure.value) and "still stale" in str(failure.value)
    # Counted from a moment on: what ended before it is not counted, what is still stale counts from it.
    mark = page_now(page)
    assert [r["text"] for r in stale_records(page, since=mark)] == ["ghost kept"]
    page.wait_for_function(f"() => performance.now() - {mark} >= {FADE_MS}")  # the time measured
    assert [r["text"] for r in ghosts(page, since=mark)] == ["ghost kept"]

    # The check for a stopped reply's ending and actions sees them on a finished reply (no note there).
    settled_turn(page, server, "A turn for the checks", "A finished answer.")
    # The copy button is a component that mounts after the run that drew it: wait for it to show.
    page.wait_for_function(f"() => JSON.stringify(({MISSING})()) === JSON.stringify(['note'])")
    assert page.evaluate(MISSING) == ["note"]


# The paths ------------------------------------------------------------------------------------


def test_sending_a_prompt_leaves_no_ghost(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "alice")
    settled_turn(page, server, "First question about sending", "A first answer, quick.")
    reply = words("send", 50)
    server.fake.enqueue(FakeReply(text=reply, delay=0.04))
    ended, mark = runs_ended(page), page_now(page)
    send(page, "Second question about sending")
    page.locator(MESSAGES).last.get_by_text("send49", exact=False).wait_for()
    all_settled(page, ended)
    assert_no_ghosts(page, "sending a prompt under an earlier turn", since=mark)


def test_a_prompt_leaves_the_turn_before_as_it_was(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """A prompt reruns its own turn's slot and the last reply's Regenerate (a fragment of its own,
    `chat/ui/turn_slots.py`), not the turn before: the server sends none of that turn's elements
    again, and its Regenerate goes (`all_settled`: one, on the last reply)."""
    frames: list[bytes | str] = []
    page.on("websocket", lambda socket: socket.on("framereceived", lambda frame: frames.append(frame)))
    signed_in(page, server, "alice")
    settled_turn(page, server, "First question, left alone", "First answer, left alone.")
    settled_turn(page, server, "Second question, left alone", "Second answer, left alone.")
    server.fake.enqueue(FakeReply(text=words("third", 30), delay=0.02))
    ended, mark, before = runs_ended(page), page_now(page), len(frames)
    send(page, "Third question")
    page.locator(MESSAGES).last.get_by_text("third29", exact=False).wait_for()
    all_settled(page, ended)
    sent = [frame for frame in frames[before:] if isinstance(frame, bytes)]
    assert any(b"third29" in frame for frame in sent)  # the frames are read as they come
    assert not [frame for frame in sent if b"left alone" in frame]
    assert_no_ghosts(page, "a prompt under two turns", since=mark)


def test_a_notice_goes_with_the_next_prompt(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """A notice is drawn by the newest turn's slot: the next prompt, which reruns the new turn's
    slot, reruns that one too, and the notice goes."""
    signed_in(page, server, "alice")
    settled_turn(page, server, "A prompt to edit later", "Its answer.")
    server.fake.enqueue(FakeReply(text=words("busy", 60), delay=0.03))
    ended = runs_ended(page)
    send(page, "Keep busy for a while")
    page.locator(MESSAGES).last.get_by_text("busy2", exact=False).wait_for()
    page.locator(MESSAGES).first.get_by_role("button", name="Edit").click()  # refused while it streams
    notice = page.get_by_text("A reply is still being written")
    notice.wait_for()
    page.locator(MESSAGES).last.get_by_text("busy59", exact=False).wait_for()
    all_settled(page, ended)
    assert notice.is_visible()  # until the next action
    ended, mark = runs_ended(page), page_now(page)
    settled_turn(page, server, "The next prompt", "The next answer.")
    assert notice.count() == 0 or not notice.is_visible()
    assert_no_ghosts(page, "a prompt under a notice", since=mark)


def test_one_stop_control_while_a_reply_streams_and_none_after(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "alice")
    server.fake.enqueue(FakeReply(text=words("one", 60), delay=0.04))
    ended = runs_ended(page)
    send(page, "Count the stop buttons")
    page.locator(MESSAGES).last.get_by_text("one1", exact=False).wait_for()
    one_stop_while_streaming(page, "one59")
    all_settled(page, ended)
    assert stop_controls(page) == []


def test_a_prompt_past_the_turns_slots_moves_them_up_with_no_ghost_and_no_gap(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """Each turn since the page's last full run has a fragment of its own (chat/ui/turn_slots.py);
    the prompt after the last free one redraws the earlier messages with them: nothing fades,
    nothing is doubled, the newest messages are drawn without a gap ("Show earlier" for the
    rest, `SHOWN`), and Regenerate is on the last reply only."""
    signed_in(page, server, "bob")
    for turn in range(TURN_SLOTS):
        settled_turn(page, server, f"Question {turn} before the move", f"Answer {turn} before the move.")
    server.fake.enqueue(FakeReply(text=words("moved", 50), delay=0.04))
    ended, mark = runs_ended(page), page_now(page)
    send(page, "The prompt past the slots")
    page.locator(MESSAGES).last.get_by_text("moved49", exact=False).wait_for()
    all_settled(page, ended)
    assert_no_ghosts(page, "a prompt past the turns' slots", since=mark)
    shown = page.locator(MESSAGES).filter(visible=True).all_inner_texts()
    expected = [
        *(text for turn in range(TURN_SLOTS) for text in (f"Question {turn}", f"Answer {turn}")),
        "The prompt past the slots",
        "moved49",
    ]
    hidden = len(expected) - len(shown)
    assert min(SHOWN, len(expected)) <= len(shown) <= len(expected), shown
    assert all(e in s for e, s in zip(expected[hidden:], shown, strict=True)), shown
    if hidden:
        assert page.get_by_role("button", name=f"Show earlier messages ({hidden})").is_visible()
    assert page.get_by_role("button", name="Regenerate").filter(visible=True).count() == 1


def stop_mid_reply(page, server: Server, username: str) -> float:  # type: ignore[no-untyped-def]
    """A reply stopped with its own Stop button; when, on the page's clock."""
    signed_in(page, server, username)
    settled_turn(page, server, f"Before the stop ({username})", "Something short first.")
    server.fake.enqueue(FakeReply(text=words("cut", 300), delay=0.04))
    send(page, f"Say a lot, then be stopped ({username})")
    page.locator(MESSAGES).last.get_by_text("cut20", exact=False).wait_for()
    mark = page_now(page)
    page.get_by_role("button", name="Stop", exact=True).click()
    return mark


def test_stopping_leaves_no_ghost(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    mark = stop_mid_reply(page, server, "bob")
    page.wait_for_function("() => window.parleyRuns.at(-1)?.state === 'notRunning'")
    page.locator("[data-testid='stChatInputSubmitButton']").wait_for()  # the run is over
    assert_no_ghosts(page, "stopping a reply", since=mark)


ENDING_AND_ACTIONS = """() => {
    const shown = (el) => el && el.getBoundingClientRect().height > 0 && el.checkVisibility();
    const messages = [...document.querySelectorAll("[data-testid='stChatMessage']")];
    const reply = messages.at(-1), prompt = messages.at(-2);
    if (!reply || !prompt) return false;
    const buttons = (root) => [...root.querySelectorAll("*")].flatMap((el) => [
        ...(el.matches("button") ? [el] : []), ...(el.shadowRoot ? buttons(el.shadowRoot) : []),
    ]);  // the copy button is a component's, in its shadow root
    const button = (within, name) => buttons(within)
        .find((b) => (b.getAttribute("aria-label") || b.innerText).includes(name) && shown(b));
    const note = [...reply.querySelectorAll("[data-testid='stCaptionContainer']")]
        .find((c) => c.innerText.includes("Stopped.") && shown(c));
    const stale = (el) => {  // in a stale container, across a shadow root's edge too
        for (let n = el; n; n = n.parentElement || n.getRootNode().host) {
            if (n.getAttribute?.("data-stale") === "true") return true;
        }
        return false;
    };
    const found = {
        note, copy: button(reply, "Copy"), regenerate: button(reply, "Regenerate"), edit: button(prompt, "Edit"),
    };
    const missing = Object.keys(found).filter((k) => !found[k] || stale(found[k]));
    return missing.length === 0;
}"""
MISSING = ENDING_AND_ACTIONS.replace("return missing.length === 0;", "return missing;")


def test_after_stop_the_ending_and_actions_appear_by_themselves(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    stop_mid_reply(page, server, "admin")
    try:
        page.wait_for_function(ENDING_AND_ACTIONS, timeout=5_000)  # no further action: bounded, then fail
    except Exception as error:
        missing = page.evaluate(MISSING)
        raise AssertionError(f"5 s after Stop, still missing or stale: {missing}") from error


def test_regenerating_leaves_no_ghost(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "alice")
    settled_turn(page, server, "Something to regenerate", "The answer to be replaced.")
    server.fake.enqueue(FakeReply(text=words("again", 50), delay=0.04))
    ended, mark = runs_ended(page), page_now(page)
    page.locator(MESSAGES).last.get_by_role("button", name="Regenerate").click()
    page.locator(MESSAGES).last.get_by_text("again49", exact=False).wait_for()
    all_settled(page, ended)
    assert_no_ghosts(page, "regenerating the last reply", since=mark)


def test_editing_the_last_prompt_leaves_no_ghost(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "alice")
    settled_turn(page, server, "A prompt with a typo", "An answer to the typo.")
    mark = page_now(page)
    page.locator(MESSAGES).nth(-2).get_by_role("button", name="Edit").click()
    box = page.get_by_role("textbox", name="Edit your message")
    box.wait_for()
    run_over(page)  # the form is drawn: its run has begun
    assert_no_ghosts(page, "opening the edit form", since=mark)
    box.fill("A prompt without the typo")
    ended, mark = runs_ended(page), page_now(page)
    server.fake.enqueue(FakeReply(text=words("edited", 50), delay=0.04))
    page.locator("[data-testid='stForm']").get_by_role("button", name="Send").click()
    page.locator(MESSAGES).last.get_by_text("edited49", exact=False).wait_for()
    all_settled(page, ended)
    assert "A prompt without the typo" in page.locator(MESSAGES).nth(-2).inner_text()
    assert_no_ghosts(page, "sending an edited prompt", since=mark)


def test_a_new_prompt_closes_an_edit_form_left_open_above(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """Each turn is drawn by a fragment of its own: a prompt reruns only its turn's and the one
    before, so a form open further up must be closed by it too (no form left to send into)."""
    signed_in(page, server, "alice")
    for turn in range(3):
        settled_turn(page, server, f"Question {turn} with a form", f"Answer {turn} with a form.")
    page.locator(MESSAGES).first.get_by_role("button", name="Edit").click()
    page.get_by_role("textbox", name="Edit your message").wait_for()
    run_over(page)  # the form is drawn: its run has begun
    ended, mark = runs_ended(page), page_now(page)
    server.fake.enqueue(FakeReply(text=words("after", 30), delay=0.02))
    send(page, "A new question instead")
    page.locator(MESSAGES).last.get_by_text("after29", exact=False).wait_for()
    all_settled(page, ended)
    assert page.get_by_role("textbox", name="Edit your message").filter(visible=True).count() == 0
    assert_no_ghosts(page, "a prompt sent with an edit form open above", since=mark)


def switch_away_and_back(page, server: Server, username: str, tag: str) -> float:  # type: ignore[no-untyped-def]
    """A conversation left with an error box, thumbs and Regenerate; a new one whose reply
    streams; over to the first while it streams, and back. When it switched away, on the page's clock."""
    signed_in(page, server, username)
    server.fake.enqueue(FakeReply(text="An answer, then trouble.", delay=0.005, reset_after=3))
    ended = runs_ended(page)
    left = f"The conversation left behind ({tag})"
    send(page, left)
    page.locator(MESSAGES).last.locator("[data-testid='stAlert']").wait_for()
    all_settled(page, ended)
    ended = runs_ended(page)
    page.get_by_role("button", name="New chat").click()
    page.locator(MESSAGES).first.wait_for(state="detached")
    run_ended_after(page, ended)
    server.fake.enqueue(FakeReply(text=words(tag, 120), delay=0.05))
    streaming = f"The one that streams ({tag})"
    send(page, streaming)
    page.locator(MESSAGES).last.get_by_text(f"{tag}3", exact=False).wait_for()
    ended, mark = runs_ended(page), page_now(page)
    page.locator("[data-testid='stSidebar']").get_by_role("button", name=left, exact=True).click()
    page.locator(MESSAGES).first.get_by_text(left).wait_for()
    run_ended_after(page, ended)
    page.locator("[data-testid='stSidebar']").get_by_role("button", name=streaming, exact=True).click()
    page.locator(MESSAGES).first.get_by_text(streaming).wait_for()
    return mark


def test_switching_conversations_while_a_reply_streams_leaves_no_ghost(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    mark = switch_away_and_back(page, server, "bob", "ghost")
    ended = runs_ended(page)
    page.locator(MESSAGES).last.get_by_text("ghost119", exact=False).wait_for(timeout=30_000)
    all_settled(page, ended)
    assert_no_ghosts(page, "switching away from a streaming reply and back", since=mark)


def test_one_stop_control_after_switching_back_to_a_streaming_reply(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    switch_away_and_back(page, server, "admin", "back")
    ended = runs_ended(page)
    one_stop_while_streaming(page, "back119")
    all_settled(page, ended)
    assert stop_controls(page) == []


def test_reloading_while_a_reply_streams_leaves_no_ghost(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "alice")
    settled_turn(page, server, "Before the reload", "An earlier answer.")
    server.fake.enqueue(FakeReply(text=words("reload", 100), delay=0.05))
    send(page, "Stream through a reload, watched")
    page.locator(MESSAGES).last.get_by_text("reload3", exact=False).wait_for()
    page.reload()  # a new document: the watch starts afresh in it, at the reload
    page.locator(MESSAGES).last.get_by_text("reload99", exact=False).wait_for(timeout=30_000)
    reply_settled(page)
    page.wait_for_function("() => window.parleyRuns.at(-1)?.state === 'notRunning'")
    assert_no_ghosts(page, "reloading while a reply streams")
