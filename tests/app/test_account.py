"""The account page's sign-ins (chat/ui/account.py): where you are signed in, this one
marked, and "Sign out everywhere else"."""

from __future__ import annotations

from chat.settings import Settings
from chat.turns import wiring
from chat.ui.identity import TEST_SESSION
from tests.apptest_helpers import new_app, session_for, sign_in
from tests.conftest import AppEnv


def sign_in_rows(app) -> list[dict[str, str]]:
    frame = app.dataframe[0].value
    return frame.to_dict("records")


def test_the_account_page_lists_your_sign_ins_and_ends_the_others(app_env: AppEnv) -> None:
    elsewhere = [session_for("alice"), session_for("alice")]
    bobs = session_for("bob")
    app = sign_in(new_app(), "alice")
    app.switch_page("views/account.py").run()
    listed = sign_in_rows(app)
    assert sorted(row["Sign-in"] for row in listed) == ["Elsewhere", "Elsewhere", "This browser"]
    assert all(row["From"] == "127.0.0.1" and row["Signed in"].endswith(" UTC") for row in listed)
    app.button(key="parley_sign_out_elsewhere").click().run()
    assert any("Signed out of 2 other sign-ins." in s.value for s in app.success)
    assert [row["Sign-in"] for row in sign_in_rows(app)] == ["This browser"]
    assert app.button(key="parley_sign_out_elsewhere").disabled
    accounts = wiring.shared(Settings.from_env()).accounts
    assert all(accounts.resume(hashed) is None for hashed in elsewhere)
    assert accounts.resume(app.session_state[TEST_SESSION]) is not None  # this one goes on
    assert accounts.resume(bobs) is not None  # and nobody else's ended
