"""The layers keep their rules (docs/architecture.md): import-linter's contracts in pyproject.toml
for the `chat` package, and the source of the scripts it cannot see (views/, app.py)."""

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT


def imported_modules(path: Path) -> Iterator[str]:
    """Every module `path` imports, at any depth (`import a.b`, `from a.b import c`, in functions too)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def imports_any(path: Path, packages: tuple[str, ...]) -> list[str]:
    return [name for name in imported_modules(path) if name.split(".")[0] in packages]


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_logic_modules_do_not_import_streamlit() -> None:
    core = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "chat").rglob("*.py")
        if path.relative_to(ROOT / "chat").parts[0] not in ("ui", "web")
        and "migrations" not in path.parts
        and path.name != "__main__.py"
    )
    loaded = "sorted(m for m in ('streamlit', 'starlette') if m in sys.modules)"
    code = f"import sys; import {', '.join(core)}; print({loaded})"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_web_layer_loads_starlette_but_never_streamlit() -> None:
    web = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts) for path in (ROOT / "chat" / "web").rglob("*.py")
    )
    code = f"import sys; import {', '.join(web)}; print('streamlit' in sys.modules, 'starlette' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "True"]


def test_only_ui_imports_streamlit_and_only_ui_and_web_starlette() -> None:
    for path in (ROOT / "chat").rglob("*.py"):
        layer = path.relative_to(ROOT / "chat").parts[0]
        if layer != "ui":
            assert not imports_any(path, ("streamlit",)), path
        if layer not in ("ui", "web"):
            assert not imports_any(path, ("starlette",)), path


def test_pages_and_app_import_no_database_model_client_or_yaml() -> None:
    scripts = [*(ROOT / "views").glob("*.py"), ROOT / "app.py", ROOT / "router.py"]
    assert len(scripts) >= 5
    for path in scripts:
        assert not imports_any(path, ("sqlalchemy", "openai", "yaml", "ruamel")), path


def test_the_checks_see_every_form_of_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from streamlit import session_state\n\ndef f():\n    import sqlalchemy.orm\n")
    assert imports_any(sample, ("streamlit",)) == ["streamlit"]
    assert imports_any(sample, ("sqlalchemy",)) == ["sqlalchemy.orm"]
