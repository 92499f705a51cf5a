"""Parley's Docker image, for real: Debian's dockerd in a temp folder, a debootstrap base
image (image pulls cannot work here), `make docker-build` on it, then the container
signed into and chatted with through Chromium, as README's `docker run` would run it.

The expensive part (dockerd, the base image, the build) is done once for the module;
dockerd and everything it mounted or started are gone at the end, even on failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chat.ops.bootstrap import ensure_env_file
from tests import docker_engine
from tests.conftest import PASSWORDS, ROOT, logged_messages, require
from tests.e2e.conftest import COOKIES_SEEN, Server, free_port
from tests.e2e.secrets import files_to_search, leaks
from tests.e2e.test_browser import assistant_text, auth_cookie, reply_settled, send, sign_in
from tests.fake_openai import FakeOpenAI, FakeReply

# The fixture's set-up (debootstrap, the build) runs inside the first test's time.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

IMAGE = "parley:latest"
VOLUME = "parley-data"
CONTAINER = "parley"
UID = 10001
API_KEY = "sk-test-not-a-real-key"


@dataclass
class Docker:
    engine: docker_engine.Engine
    timings: dict[str, float] = field(default_factory=dict)
    image_mb: float = 0.0
    commit: str = ""  # what `make docker-build` tagged: HEAD when it started

    def __call__(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.engine.docker(*args, check=check, input=input)

    def mountpoint(self, volume: str) -> str:
        return self("volume", "inspect", "-f", "{{.Mountpoint}}", volume).stdout.strip()

    def inspect(self, what: str) -> dict:  # type: ignore[type-arg]
        return json.loads(self("inspect", what).stdout)[0]  # type: ignore[no-any-return]


def git_commit() -> str:
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    return git.stdout.strip()


@pytest.fixture(scope="module")
def docker() -> Iterator[Docker]:
    """A private dockerd with Parley's image built by `make docker-build` on a debootstrap base."""
    require(os.geteuid() == 0, "dockerd and debootstrap need root")
    missing = docker_engine.missing_programs()
    require(not missing, f"Docker is not installed (apt-get install {' '.join(missing)})")
    folder = Path(tempfile.mkdtemp(prefix="pd-", dir="/tmp"))  # short: the socket's path has a limit
    engine = None
    try:
        started = time.monotonic()
        engine = docker_engine.start(folder)
        run = Docker(engine, {"dockerd start": time.monotonic() - started})
        # The base image (apt's network, dpkg) and the wheelhouse (pip) at the same time.
        started = time.monotonic()
        rootfs, log = folder / "rootfs", folder / "debootstrap.log"
        debootstrap = docker_engine.debootstrap(rootfs, log)
        try:
            wheels = subprocess.run(
                ["make", "wheels/.requirements"], cwd=ROOT, env=engine.env(), capture_output=True, text=True
            )
        finally:
            status = debootstrap.wait()
        run.timings["debootstrap and wheelhouse, together"] = time.monotonic() - started
        assert wheels.returncode == 0, f"filling wheels/ failed:\n{wheels.stdout}\n{wheels.stderr}"
        assert status == 0, f"debootstrap failed:\n{log.read_text(errors='replace')[-3000:]}"
        started = time.monotonic()
        docker_engine.import_base(engine, rootfs)
        shutil.rmtree(rootfs)
        run.timings["base image import"] = time.monotonic() - started
        started = time.monotonic()
        run.commit = git_commit()
        build = subprocess.run(
            ["make", "docker-build", f"BASE={docker_engine.BASE_IMAGE}"],
            cwd=ROOT,
            env=engine.env(),
            capture_output=True,
            text=True,
        )
        run.timings["image build"] = time.monotonic() - started
        assert build.returncode == 0, f"make docker-build failed:\n{build.stdout[-5000:]}\n{build.stderr[-3000:]}"
        yield run
        timings = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in run.timings.items())
        print(f"\nDocker: {timings}; image {run.image_mb:.0f} MB")
    finally:
        docker_engine.remove(folder, engine.process if engine else None)
        left = docker_engine.leftovers(folder)
        assert not left, f"the Docker engine left {left}"


def test_the_image_is_built_as_documented(docker: Docker) -> None:
    image = docker.inspect(IMAGE)
    config = image["Config"]
    pyproject = (ROOT / "pyproject.toml").read_text().splitlines()
    version = next(line for line in pyproject if line.startswith("version")).split('"')[1]
    assert config["Labels"]["org.opencontainers.image.version"] == version
    assert config["Labels"]["org.opencontainers.image.revision"] == docker.commit
    assert {IMAGE, f"parley:{version}", f"parley:{docker.commit}"} <= set(image["RepoTags"])
    assert config["User"] == f"{UID}:{UID}"
    assert config["Healthcheck"]["Test"] == ["CMD", "python", "-P", "/app/docker/healthcheck.py"]
    assert "PYTHONSAFEPATH=1" in config["Env"]  # `docker exec ... python -m` takes no code from the volume
    assert "8501/tcp" in config["ExposedPorts"] and "/app/data" in config["Volumes"]
    assert not any(entry.startswith(("PARLEY_COOKIE_KEY", "OPENAI_API_KEY")) for entry in config["Env"])
    # Nothing local, secret or unneeded was copied in; the code cannot be changed by the app's user.
    script = "ls -A /app; echo --; find /app/data; echo --; stat -c %u /app/app.py"
    names, data, owner = docker("run", "--rm", "--network", "none", IMAGE, "sh", "-c", script).stdout.split("--\n")
    assert {"app.py", "chat", "views", "docker", ".streamlit", "data"} <= set(names.split())
    assert not {".env", "auth.yaml", ".git", ".venv", "tests", "wheels", "benchmarks"} & set(names.split())
    assert data.split() == ["/app/data", "/app/data/data"]  # the volume's folder holds nothing from the host
    assert owner.strip() == "0"
    docker.image_mb = image["Size"] / 1e6


def test_a_bad_configuration_stops_the_container_with_the_reason(docker: Docker) -> None:
    result = docker("run", "--rm", "--network", "host", IMAGE, check=False)
    assert result.returncode != 0
    assert "PARLEY_COOKIE_KEY is not set" in result.stdout + result.stderr
    short = docker("run", "--rm", "--network", "host", "-e", "PARLEY_COOKIE_KEY=too-short", IMAGE, check=False)
    assert short.returncode != 0 and "at least 32" in short.stdout + short.stderr


@dataclass
class Container:
    server: Server
    volume: Path


@pytest.fixture(scope="module")
def container(docker: Docker, fake_model: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Container]:
    """README's `docker run`: an env file made from .env.example, the named volume; here on
    the host's network (this dockerd has no bridge), at a free port on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("docker")
    env_file = folder / ".env"
    ensure_env_file(env_file, ROOT / ".env.example")  # what `make docker-run` does: a fresh cookie key
    port = free_port()
    overrides = {
        "OPENAI_BASE_URL": fake_model.base_url,
        "OPENAI_API_KEY": API_KEY,
        "PARLEY_MAX_RETRIES": "0",
        "PORT": str(port),
        "ADDRESS": "127.0.0.1",
    }
    lines = [line for line in env_file.read_text().splitlines() if line.split("=", 1)[0] not in overrides]
    env_file.write_text("\n".join([*lines, *(f"{key}={value}" for key, value in overrides.items())]) + "\n")
    started = time.monotonic()
    run = f"run -d --name {CONTAINER} --network host --health-interval 2s -v {VOLUME}:/app/data".split()
    docker(*run, "--env-file", str(env_file), IMAGE)
    finished = False
    try:
        deadline = time.monotonic() + 120
        while (state := docker.inspect(CONTAINER)["State"])["Health"]["Status"] != "healthy":
            logs = docker("logs", CONTAINER).stdout
            assert state["Running"] and time.monotonic() < deadline, f"not healthy: {state}\n{logs}"
            time.sleep(0.5)
        docker.timings["start to healthy"] = time.monotonic() - started
        volume = Path(docker.mountpoint(VOLUME))
        yield Container(
            Server(
                f"http://127.0.0.1:{port}",
                folder,
                f"sqlite:///{folder / 'parley.db'}",
                fake_model,
                folder / "container.log",
            ),
            volume,
        )
        finished = True
    finally:
        logs = docker("logs", CONTAINER, check=False)
        (folder / "container.log").write_text(logs.stdout + logs.stderr)
        docker("rm", "--force", CONTAINER, check=False)
        # `make test` runs this module in a pytest process of its own, so it looks for secrets itself
        # (as test_secrets_browser does for the rest): in the log and in the volume's database.
        volume = Path(docker.mountpoint(VOLUME))
        files = files_to_search([folder, volume])
        found = leaks(files, [], docker_secrets(env_file), COOKIES_SEEN)
        docker("volume", "rm", VOLUME, check=False)
        if finished:  # else the error that stopped the module is the one to see
            assert found == [] and any(path.name == "parley.db" for path in files)


def docker_secrets(env_file: Path) -> dict[str, str]:
    cookie_key = next(line for line in env_file.read_text().splitlines() if line.startswith("PARLEY_COOKIE_KEY="))
    return {
        **{f"password of {name}": password for name, password in PASSWORDS.items()},
        "the cookie key": cookie_key.split("=", 1)[1].strip().strip("'\""),
        "the API key": API_KEY,
    }


def test_the_container_runs_healthy_as_a_non_root_user(docker: Docker, container: Container) -> None:
    status = docker("exec", CONTAINER, "cat", "/proc/1/status").stdout  # Streamlit itself, PID 1
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(UID)] * 4
    assert docker("exec", CONTAINER, "id", "-u").stdout.strip() == str(UID)
    assert "streamlit" in docker("exec", CONTAINER, "cat", "/proc/1/cmdline").stdout
    health = docker.inspect(CONTAINER)["State"]["Health"]
    last = health["Log"][-1]
    port = container.server.url.rsplit(":", 1)[1]  # the container's PORT: the health check asks that one
    assert last["ExitCode"] == 0 and last["Output"].strip() == f"healthy: http://127.0.0.1:{port}/healthz answers"
    # The first start made the first admin and printed its one-time password, once.
    logs = docker("logs", CONTAINER).stdout
    assert "No users yet: creating the first admin account." in logs and "username: admin" in logs


def test_the_volume_is_the_users_alone_and_holds_no_code(docker: Docker, container: Container) -> None:
    """Folders 0700 and files 0600 in the volume; a module planted there (it is the working
    directory) never runs: `python -m` takes code from the image only."""
    listing = docker("exec", CONTAINER, "find", "/app/data", "-printf", "%y %m %p\n").stdout.splitlines()
    modes = {path: (kind, mode) for kind, mode, path in (line.split(" ", 2) for line in listing)}
    assert {"/app/data/auth.yaml", "/app/data/data/parley.db"} <= set(modes)
    assert all(mode == ("700" if kind == "d" else "600") for kind, mode in modes.values()), modes
    planted = container.volume / "chat"
    planted.mkdir()
    try:
        (planted / "__init__.py").write_text("print('PLANTED')\n")
        (planted / "__main__.py").write_text("print('PLANTED main')\n")
        (planted / "health.py").write_text("print('PLANTED health')\n")
        checked = docker("exec", CONTAINER, "python", "-m", "chat", "health")
        assert "PLANTED" not in checked.stdout + checked.stderr and checked.stdout.startswith("healthy: database")
    finally:
        shutil.rmtree(planted)


def test_sign_in_and_chat_with_the_database_on_the_volume(page, docker: Docker, container: Container) -> None:  # type: ignore[no-untyped-def]
    # A user added with the CLI inside the running container, as the README says.
    added = docker(
        "exec",
        "-i",
        CONTAINER,
        "python",
        "-m",
        "chat",
        "users",
        "add",
        "alice",
        "--password-stdin",
        input=PASSWORDS["alice"] + "\n",
    )
    assert "alice" in added.stdout
    reply = "Hello from inside the container, streamed."
    container.server.fake.enqueue(FakeReply(text=reply, delay=0.01))
    sign_in(page, container.server, "alice")
    send(page, "Are you in a container?")
    page.get_by_text("streamed.").wait_for()
    reply_settled(page)
    assert reply in assistant_text(page)
    auth_cookie(page)  # for the end-of-run secrets check

    # auth.yaml and the database are on the volume, written by the container's user.
    database = container.volume / "data" / "parley.db"
    assert database.is_file() and (container.volume / "auth.yaml").is_file()
    assert database.stat().st_uid == UID and (container.volume / "auth.yaml").stat().st_uid == UID
    # Read a copy (the app keeps the original open): the turn is in it.
    for suffix in ("", "-wal"):
        if Path(f"{database}{suffix}").exists():
            shutil.copy(f"{database}{suffix}", container.server.folder / f"parley.db{suffix}")
    turn = [(m.role, m.status, m.content) for m in logged_messages(container.server.database_url)]
    assert turn[-2:] == [("user", "complete", "Are you in a container?"), ("assistant", "complete", reply)]

    # Any other command runs as given, against the same volume: the users CLI sees alice.
    users = docker(
        "run", "--rm", "--network", "none", "-v", f"{VOLUME}:/app/data", IMAGE, "python", "-m", "chat", "users", "list"
    ).stdout
    assert "alice" in users and "admin" in users


def test_docker_stop_ends_parley_cleanly(docker: Docker, container: Container) -> None:
    started = time.monotonic()
    docker("stop", "--time", "20", CONTAINER)
    assert time.monotonic() - started < 15
    state = docker.inspect(CONTAINER)["State"]
    assert state["ExitCode"] == 0, state
