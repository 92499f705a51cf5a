"""chat/ui/state.py: a page's chat state."""

from __future__ import annotations

from chat.domain.messages import ChatMessage


def test_a_finished_reply_is_settled_once() -> None:
    from chat.ui.state import ChatState

    chat = ChatState()

    class Done:
        done = True
        save_error = None

        def as_message(self) -> ChatMessage:
            return ChatMessage("assistant", "hi")

    chat.turn = Done()  # type: ignore[assignment]
    chat.settle()
    chat.settle()
    assert chat.history == [ChatMessage("assistant", "hi")] and chat.turn is None
