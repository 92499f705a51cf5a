"""The logic package stays importable without Streamlit."""

import subprocess
import sys

from tests.conftest import ROOT


def test_logic_modules_do_not_import_streamlit() -> None:
    code = (
        "import sys; import chat.service, chat.store, chat.llm, chat.db, chat.users, chat.bootstrap, chat.auth, "
        "chat.export, chat.cli; "
        "print('streamlit' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_only_ui_imports_streamlit_and_pages_import_only_chat() -> None:
    for path in (ROOT / "chat").glob("*.py"):
        if path.name != "ui.py":
            assert "import streamlit" not in path.read_text(), path
    for path in (ROOT / "views").glob("*.py"):
        text = path.read_text()
        for forbidden in ("import openai", "import sqlalchemy", "from sqlalchemy", "import yaml", "from openai"):
            assert forbidden not in text, (path, forbidden)
