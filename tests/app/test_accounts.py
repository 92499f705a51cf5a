"""Accounts in the app (AppTest): a printed password, the way to change one's own, roles, the
admin page and its audit, quotas, a session that ends mid-send, and two users side by side.
Signing in, the throttle and changing a password are HTTP (tests/unit/test_web_*.py)."""

from __future__ import annotations

import re
import tomllib

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from chat.accounts import authfile
from chat.accounts.authfile import load_users
from chat.db.tables import AuditEvent
from tests.apptest_helpers import chat_texts, new_app, send, sign_in
from tests.conftest import ROOT, AppEnv, parley
from tests.fake_openai import FakeOpenAI, FakeReply


def errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


def fill(app: AppTest, values: dict[str, str]) -> None:
    for box in app.text_input:
        if box.label in values:
            box.input(values[box.label])


def submit(app: AppTest, label: str) -> AppTest:
    next(b for b in app.button if b.label == label).click()
    return app.run()


def test_a_printed_password_shows_nothing_but_the_way_to_change_it(
    app_env: AppEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate sends every page load of such a user to /password (tests/unit/test_web_password.py);
    a run that gets here anyway (a tab open since) draws nothing of the app."""
    monkeypatch.setattr(authfile, "BCRYPT_ROUNDS", 4)
    added = parley("users", "--file", str(app_env.auth_file), "add", "root", "--role", "admin", "--generate-password")
    assert added.exit_code == 0, added.stderr
    printed = next(line.split(": ", 1)[1] for line in added.stdout.splitlines() if "password:" in line)
    assert load_users(app_env.auth_file)["root"].must_change_password

    app = sign_in(new_app(), "root", printed)
    assert len(app.chat_input) == 0 and len(app.text_input) == 0
    assert [button.proto.url for button in app.get("link_button")] == ["/password"]
    with pytest.raises(ValueError, match="Known pages: \\['Change your password'\\]"):
        app.switch_page("views/admin.py")


def test_the_account_page_leads_to_the_password_page_and_says_when_it_was_changed(app_env: AppEnv) -> None:
    app = sign_in(new_app())
    app.switch_page("views/account.py").run()
    app.button(key="parley_change_password").click().run()  # takes the tab to /password (a redirect message)
    assert not app.exception and not app.success
    app.query_params["changed"] = "password"  # where /password sends the browser after a change
    app.run()
    assert any("Your password was changed" in s.value for s in app.success)
    assert "changed" not in app.query_params  # said once


def test_the_admin_page_is_not_a_users_page(app_env: AppEnv) -> None:
    app = sign_in(new_app(), "alice")
    assert not any(link.label == "Admin" for link in app.sidebar.get("page_link"))
    with pytest.raises(ValueError, match="Known pages"):
        app.switch_page("views/admin.py")
    # The page file run on its own, as a user: nothing of it is drawn.
    page = AppTest.from_file(str(ROOT / "views" / "admin.py"))
    page.session_state["parley_user"] = app.session_state["parley_user"]
    page.run()
    assert len(page.title) == 0 and len(page.dataframe) == 0 and not page.exception and not page.error


def test_the_admin_sees_usage_and_reads_a_conversation_on_the_record(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Noted."))
    send(sign_in(new_app(), "alice"), "My secret project is Falcon")
    fake_openai.enqueue(FakeReply(status=500))
    send(sign_in(new_app(), "bob"), "This one fails")

    admin = sign_in(new_app(), "admin")
    admin.switch_page("views/admin.py").run()
    assert not admin.exception and admin.title[0].value == "Admin"
    users = admin.dataframe[0].value
    assert list(users["User"]) == ["alice", "bob", "admin"]
    assert users.set_index("User").loc["alice", "Messages"] == 2
    assert "/ 20" in users.set_index("User").loc["alice", "Messages, last minute"]
    failures = admin.table[0].value
    assert list(failures["User"]) == ["bob"] and list(failures.columns) == ["User", "Model", "Kind", "Message"]
    assert len(admin.get("vega_lite_chart")) == 3  # usage per day, user and model

    engine = create_engine(app_env.database_url)
    with Session(engine) as session:
        assert session.scalars(select(AuditEvent)).all() == []
    admin.selectbox(key="parley_audit_user").select("alice").run()
    submit(admin, "Open read-only (recorded in the audit log)")
    assert ("user", "My secret project is Falcon") in chat_texts(admin)
    with Session(engine) as session:
        event = session.scalars(select(AuditEvent)).one()
    engine.dispose()
    assert (event.actor, event.action) == ("admin", "read_conversation") and event.target.startswith("alice/")
    assert list(admin.dataframe[-1].value["Admin"]) == ["admin"]  # the audit log, on the page


def test_two_users_side_by_side_see_only_their_own(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="For Alice."), FakeReply(text="For Bob."))
    alice, bob = sign_in(new_app(), "alice"), sign_in(new_app(), "bob")
    alice, bob = send(alice, "Alice's question"), send(bob, "Bob's question")
    alice_id = alice.query_params["c"]
    assert chat_texts(alice.run()) == [("user", "Alice's question"), ("assistant", "For Alice.")]
    assert chat_texts(bob.run()) == [("user", "Bob's question"), ("assistant", "For Bob.")]
    titles = [b.label for b in bob.sidebar.button if b.key and b.key.startswith("parley_open_")]
    assert titles == ["Bob's question"]
    # Bob opening Alice's conversation by its URL sees that it does not exist.
    bob.query_params["c"] = alice_id
    bob.run()
    assert any("Conversation not found" in w.value for w in bob.warning) or any(
        "Conversation not found" in e for e in errors(bob)
    )
    assert all("Alice" not in text for _, text in chat_texts(bob))
    bob.switch_page("views/history.py").run()
    bob.text_input(key="parley_search").input("question").run()
    assert "Alice" not in " ".join(m.value for m in bob.markdown)


def test_the_quota_stops_a_request_and_says_when_to_continue(
    app_env: AppEnv, fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_QUOTA_MESSAGES_PER_MINUTE", "2")
    app = sign_in(new_app())
    app = send(send(app, "one"), "two")
    app = send(app, "three")
    notice = " ".join([*errors(app), *(w.value for w in app.warning)])
    assert "2 messages in the last minute" in notice and "You can continue in" in notice
    assert app.chat_input[0].proto.value == "three"  # the prompt is back in the input box
    assert len(fake_openai.chat_requests) == 2


def test_per_user_quota_overrides_come_from_auth_yaml(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    assert (
        parley("users", "--file", str(app_env.auth_file), "quota", "alice", "--messages-per-minute", "1").exit_code == 0
    )
    app = send(send(sign_in(new_app()), "one"), "two")
    assert any("1 message in the last minute" in e for e in errors(app))
    assert len(send(sign_in(new_app(), "bob"), "bob's one").chat_message) == 2  # bob keeps the default


def test_streamlit_config_keeps_the_protections_on() -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["maxUploadSize"] <= 1 and config["server"]["maxMessageSize"] <= 50
    assert config["client"]["showErrorDetails"] == "none"


def end_session_elsewhere(app_env: AppEnv, app: AppTest) -> None:
    """Sign out from another tab: the session's row is revoked."""
    from chat.accounts.auth import Accounts
    from chat.db.engine import make_engine, session_factory
    from chat.settings import Settings

    engine = make_engine(app_env.database_url)
    Accounts(Settings.from_env(), session_factory(engine)).sign_out(app.session_state["parley_user"].session_hash)
    engine.dispose()


def test_a_prompt_sent_as_the_session_ends_stays_on_screen_and_goes_to_nobody(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    app = sign_in(new_app())
    end_session_elsewhere(app_env, app)
    app = send(app, "my long carefully written question")
    assert len(app.chat_input) == 0 and any("Your sign-in has ended" in w.value for w in app.warning)
    assert [code.value for code in app.code] == ["my long carefully written question"]  # to copy
    assert [button.proto.url for button in app.get("link_button")][0].startswith("/signin?reason=ended")
    assert fake_openai.chat_requests == []
    # The next person signing in at this tab gets nothing of it.
    app = sign_in(app, "bob")
    assert not app.code and not (app.chat_input[0].proto.set_value and app.chat_input[0].proto.value)


def test_an_audited_conversation_goes_with_its_reader(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    send(sign_in(new_app(), "alice"), "private words")
    admin = sign_in(new_app(), "admin")
    admin.switch_page("views/admin.py").run()
    submit(admin, "Open read-only (recorded in the audit log)")
    assert ("user", "private words") in chat_texts(admin)
    end_session_elsewhere(app_env, admin)  # signed out (POST /signout, or another tab)
    admin.run()
    assert "parley_audit" not in admin.session_state


def test_the_audit_picker_shows_no_content_until_a_conversation_is_opened(
    app_env: AppEnv, fake_openai: FakeOpenAI
) -> None:
    """A title is the first words of a user's prompt: listing them is a read. The picker
    says when, how long and which (a short id); the title shows after the audited open."""
    fake_openai.enqueue(FakeReply(text="Noted."))
    alice = send(sign_in(new_app(), "alice"), "My secret project is Falcon")
    conversation = alice.query_params["c"]
    admin = sign_in(new_app(), "admin")
    admin.switch_page("views/admin.py").run()
    admin.selectbox(key="parley_audit_user").select("alice").run()
    picker = admin.selectbox(key="parley_audit_conversation")
    [label] = picker.options  # what the admin sees in the list
    assert "Falcon" not in label and "secret" not in label
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d · 2 messages · {conversation[:8]}", label), label
    assert "Falcon" not in str(admin.main)  # nowhere on the page either
    engine = create_engine(app_env.database_url)
    with Session(engine) as session:
        assert session.scalars(select(AuditEvent)).all() == []  # nothing read yet
    submit(admin, "Open read-only (recorded in the audit log)")
    header = [m.value for m in admin.markdown if " · alice · " in m.value]
    assert header and "My secret project is Falcon" in header[0]  # the title, once read on the record
    with Session(engine) as session:
        assert [e.target for e in session.scalars(select(AuditEvent))] == [f"alice/{conversation}"]
    engine.dispose()


def test_the_app_keeps_everyone_signed_in_and_tells_the_admin(app_env: AppEnv) -> None:
    alice = sign_in(new_app(), "alice")
    admin = sign_in(new_app(), "admin")
    broken = re.sub(r"roles:\n\s+- user\n", "roles: {admin: false}\n", app_env.auth_file.read_text(), count=1)
    assert "{admin: false}" in broken
    app_env.auth_file.write_text(broken)
    alice.run()
    assert not alice.exception and len(alice.chat_input) == 1 and not alice.error  # still signed in, no notice
    admin.switch_page("views/admin.py").run()
    assert not admin.exception and admin.title[0].value == "Admin"
    assert "the last good copy" in admin.warning[0].value
    assert any("'roles' must be a list" in t.value for t in admin.text)
    # A new visitor can still sign in, from the good copy.
    carol = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
    assert len(sign_in(carol.run(), "bob").chat_input) == 1
