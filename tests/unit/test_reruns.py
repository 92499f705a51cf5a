"""`chat/ui/reruns.py` reads Streamlit's request queue: this holds the pinned Streamlit to it."""

from __future__ import annotations

from streamlit.runtime.scriptrunner_utils.script_requests import RerunData, ScriptRequests

from chat.ui import reruns


class _Context:
    def __init__(self, requests: ScriptRequests) -> None:
        self.script_requests = requests
        self.fragment_ids_this_run: list[str] = []


def test_a_fragments_widget_rerun_waits_for_the_run_and_is_seen_waiting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    requests = ScriptRequests()
    monkeypatch.setattr(reruns, "get_script_run_ctx", lambda: _Context(requests))
    assert not reruns.rerun_waiting()
    # What a click on a widget inside a fragment sends: the fragment's id, not scoped.
    assert requests.request_rerun(RerunData(fragment_id="chat-area"))
    assert requests.on_scriptrunner_yield() is None  # Streamlit lets the running script go on...
    assert reruns.rerun_waiting()  # ...and the chat sees the request waiting
    requests.request_stop()
    assert not reruns.rerun_waiting()  # a stop is Streamlit's own (StopException)


def test_outside_a_run_nothing_is_waiting(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(reruns, "get_script_run_ctx", lambda: None)
    assert not reruns.rerun_waiting() and not reruns.in_fragment_rerun()
