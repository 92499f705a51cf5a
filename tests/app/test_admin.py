"""The admin page: the quarantine shown without the text it holds."""

from __future__ import annotations

from pathlib import Path

from chat.db import spool
from chat.db.engine import init_db, make_engine, session_factory
from tests.apptest_helpers import new_app, sign_in
from tests.conftest import AppEnv
from tests.integration.test_quarantine import SECRET, record


def test_the_admin_page_shows_the_quarantine_without_the_text(app_env: AppEnv) -> None:
    engine = make_engine(app_env.database_url)
    init_db(engine)
    file = spool.Spool(Path.cwd() / "data" / "spool.jsonl")  # PARLEY_SPOOL_FILE's default, in the sandbox
    poison = record("bob", "b", SECRET, SECRET, model=None)
    file.add(poison)
    assert file.replay(session_factory(engine)).quarantined == 1
    engine.dispose()

    admin = sign_in(new_app(), "admin")
    admin.switch_page("views/admin.py").run()
    assert not admin.exception
    (warning,) = [w.value for w in admin.warning if "spooled record" in w.value]
    assert "refused 1 spooled record for a reason retrying will not cure" in warning
    assert str(file.quarantine_path.resolve()) in [c.value for c in admin.code]
    table = next(d.value for d in admin.dataframe if "Why" in d.value.columns)
    assert list(table["User"]) == ["bob"] and list(table["Record"]) == [poison.id]
    assert table["Why"][0].startswith("IntegrityError: ") and table["What"][0] == "a turn"
    assert table["Set aside (UTC)"][0] is not None
    on_page = [str(d.value.to_dict()) for d in admin.dataframe] + [
        str(e.value) for kind in ("markdown", "caption", "warning", "code", "text") for e in admin.get(kind)
    ]
    assert not any(SECRET in text for text in on_page)
