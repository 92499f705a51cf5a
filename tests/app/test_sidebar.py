"""The sidebar's conversation list under AppTest (chat/ui/sidebar.py): date groups, the filter,
"Show more", each conversation's menu acting on that conversation, open or not, and a new
conversation listed under the title its model gave it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import chat_texts, new_app, send, sign_in
from tests.conftest import AppEnv
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.seeding import dated


def listed(app: AppTest) -> list[str]:
    return [b.label for b in app.sidebar.button if b.key and b.key.startswith("parley_open_")]


def groups(app: AppTest) -> list[str]:
    return [c.value for c in app.sidebar.caption]


def signed_in_with(app_env: AppEnv, conversations: list[tuple[str, datetime]]) -> tuple[AppTest, list[str]]:
    app = sign_in(new_app())  # the first run makes the log's tables
    ids = dated(app_env.database_url, "alice", conversations)
    return app.run(), ids


def test_the_list_is_grouped_by_date_newest_first(app_env: AppEnv) -> None:
    now = datetime.now(UTC)
    app, _ = signed_in_with(
        app_env,
        [("Old", now - timedelta(days=400)), ("Last week", now - timedelta(days=5)), ("Just now", now)],
    )
    assert listed(app) == ["Just now", "Last week", "Old"]
    assert groups(app)[:3] == ["Today", "Previous 7 days", f"{now - timedelta(days=400):%B %Y}"]


def test_the_filter_narrows_the_list_and_says_when_nothing_matches(app_env: AppEnv) -> None:
    fresh = sign_in(new_app())
    assert [t for t in fresh.text_input if t.key == "parley_filter"] == []  # nothing to filter yet
    now = datetime.now(UTC)
    app, _ = signed_in_with(app_env, [("Budget draft", now), ("Holiday plans", now), ("Budget final", now)])
    app.text_input(key="parley_filter").input("budget").run()
    assert sorted(listed(app)) == ["Budget draft", "Budget final"]
    app.text_input(key="parley_filter").input("budget holiday").run()
    assert listed(app) == []
    assert "No conversation's title has those words." in groups(app)


def test_a_long_list_shows_the_newest_and_more_on_request(app_env: AppEnv) -> None:
    now = datetime.now(UTC)
    app, _ = signed_in_with(app_env, [(f"Conversation {n}", now - timedelta(minutes=n)) for n in range(45)])
    assert len(listed(app)) == 30 and listed(app)[0] == "Conversation 0"
    app.button(key="parley_list_more").click().run()
    assert len(listed(app)) == 45 and listed(app)[-1] == "Conversation 44"


def test_deleting_another_conversation_from_its_menu_keeps_the_open_one(app_env: AppEnv) -> None:
    now = datetime.now(UTC)
    app, (kept, gone) = signed_in_with(app_env, [("Kept open", now), ("To delete", now - timedelta(hours=1))])
    app.button(key=f"parley_open_{kept}").click().run()
    assert chat_texts(app) == [("user", "Kept open")]
    app.button(key=f"parley_delete_{gone}").click().run()
    assert "retention period" in app.warning[0].value
    app.button(key=f"parley_delete_confirm_{gone}").click().run()
    assert listed(app) == ["Kept open"]
    assert chat_texts(app) == [("user", "Kept open")] and app.query_params["c"] == kept


def test_a_new_conversation_is_listed_under_the_name_its_model_gave(app_env: AppEnv, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Start with the tram."))
    fake_openai.enqueue_title(FakeReply(text="Lisbon by tram"))
    app = send(sign_in(new_app()), "what should I see in lisbon?")
    assert listed(app) == ["Lisbon by tram"]  # the run that streamed the reply waited for it
    assert chat_texts(app)[0] == ("user", "what should I see in lisbon?")


def test_the_menus_title_box_follows_a_rename_made_elsewhere(app_env: AppEnv) -> None:
    from chat.ui.resources import chat_service, settings_or_stop

    app, (cid,) = signed_in_with(app_env, [("First words", datetime.now(UTC))])
    assert app.text_input(key=f"parley_title_{cid}").value == "First words"
    chat_service(settings_or_stop()).rename_conversation("alice", cid, "Named by its model")  # as the titler does
    app.run()
    assert app.text_input(key=f"parley_title_{cid}").value == "Named by its model"
    app.button(key=f"parley_rename_{cid}").click().run()  # Rename without typing: nothing to undo
    assert listed(app) == ["Named by its model"]
