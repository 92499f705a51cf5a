"""chat/ui/state.py: a page's chat state."""

from __future__ import annotations

from chat.domain.messages import ChatMessage
from chat.turns.naming import Naming


def test_a_finished_reply_is_settled_once() -> None:
    from chat.ui.state import ChatState

    chat = ChatState()

    naming = Naming()

    class Done:
        done = True
        save_error = None
        error = None
        naming = None  # set below: the title the page waits for comes with the settled turn

        def as_message(self) -> ChatMessage:
            return ChatMessage("assistant", "hi")

    done = Done()
    done.naming = naming  # type: ignore[assignment]
    chat.turn = done  # type: ignore[assignment]
    chat.settle()
    chat.settle()
    assert chat.history == [ChatMessage("assistant", "hi")] and chat.turn is None
    assert chat.naming is naming
