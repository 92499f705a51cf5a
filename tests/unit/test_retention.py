"""chat/db/retention.py's policy as the settings give it (the purge itself: tests/integration/test_retention.py)."""

from __future__ import annotations

import pytest

from chat.db.retention import RetentionPolicy
from chat.errors import ConfigError
from chat.settings import Settings
from tests.conftest import TEST_COOKIE_KEY


def test_the_retention_settings() -> None:
    base = {"PARLEY_COOKIE_KEY": TEST_COOKIE_KEY}
    defaults = Settings.from_env(base, env_file=None)
    assert (defaults.retention_days, defaults.deleted_retention_days) == (0, 30)
    chosen = Settings.from_env(
        {**base, "PARLEY_RETENTION_DAYS": "365", "PARLEY_DELETED_RETENTION_DAYS": "7"}, env_file=None
    )
    policy = RetentionPolicy.from_settings(chosen)
    assert (policy.retention_days, policy.deleted_retention_days) == (365, 7)
    with pytest.raises(ConfigError) as error:
        Settings.from_env(
            {**base, "PARLEY_RETENTION_DAYS": "-1", "PARLEY_DELETED_RETENTION_DAYS": "2.5"}, env_file=None
        )
    assert "PARLEY_RETENTION_DAYS must be at least 0, not -1." in error.value.message
    assert "PARLEY_DELETED_RETENTION_DAYS must be a whole number, not '2.5'." in error.value.message
