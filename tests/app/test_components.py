"""The Copy button under AppTest (chat/ui/components.py): its file-backed JavaScript needs the
asset folder declared on each runtime's component manager, and AppTest makes one per app."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _two_copy_buttons() -> None:
    from chat.ui.components import copy_button

    copy_button("first reply", key="one")
    copy_button("second reply", key="two")


def test_the_button_mounts_in_one_app_test_after_another() -> None:
    # Each AppTest has a component manager of its own: the asset folder is declared on each.
    for _ in range(2):
        app = AppTest.from_function(_two_copy_buttons).run()
        assert not app.exception
