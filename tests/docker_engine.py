"""A throwaway Docker engine for the tests: Debian's `dockerd` (package docker.io) in a
temp folder, with no bridge, no iptables and its own data, state and socket; and a
local base image made with `debootstrap`, since image pulls cannot work here.

    python3 -m tests.docker_engine start DIR        # prints DOCKER_HOST=unix://DIR/d.sock
    python3 -m tests.docker_engine base-image DIR   # debootstrap + docker import parley-base:bookworm
    python3 -m tests.docker_engine stop DIR         # dockerd and what it left: processes, mounts

Standard library only; it installs nothing (`apt-get install docker.io debootstrap`).
Containers must run with `--network host` (there is no bridge). Keep DIR short (e.g.
`mktemp -d /tmp/pd-XXXXXX`): the socket's path must fit in 108 bytes.
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

BASE_IMAGE = "parley-base:bookworm"
SUITE = "bookworm"
PACKAGES = ("python3", "python3-venv")
FALLBACK_MIRROR = "http://deb.debian.org/debian"
# Not needed in an image: apt's downloaded packages and lists, documentation, translations.
TRIMMED = (
    "var/cache/apt/archives/*.deb",
    "var/lib/apt/lists/*",
    "usr/share/doc/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
)
KEY_FILE = Path("/etc/docker/key.json")  # dockerd 20.10 makes its trust key there, whatever --data-root says


def _path() -> str:
    """PATH with the sbin folders a non-login shell may lack (dockerd, runc, debootstrap, chroot)."""
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def program(name: str) -> str | None:
    return shutil.which(name, path=_path())


def missing_programs() -> list[str]:
    """What must be installed first (Debian: apt-get install docker.io debootstrap)."""
    wanted = {"dockerd": "docker.io", "docker": "docker.io", "debootstrap": "debootstrap", "tar": "tar"}
    return sorted({package for name, package in wanted.items() if program(name) is None})


@dataclass
class Engine:
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.folder / "d.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for the `docker` client: this engine, a client config of its own."""
        env = dict(os.environ if base is None else base)
        env.update(DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.folder / "client"))
        return env

    def docker(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 300,
        input: str | None = None,
        stdin: IO[bytes] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the `docker` client against this engine; its output as text."""
        return subprocess.run(
            ["docker", *args],
            env=self.env(),
            check=check,
            timeout=timeout,
            text=True,
            capture_output=True,
            input=input,
            stdin=stdin,
        )


def _ping(path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(2)
            client.connect(str(path))
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return client.recv(64).split(b" ", 2)[1:2] == [b"200"]
    except OSError:
        return False


def start(folder: Path, timeout: float = 60) -> Engine:
    """Start dockerd with everything under `folder`; return once it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    if not KEY_FILE.exists():
        (folder / "made-key-file").touch()  # so that stop() removes the key this dockerd makes
    engine = Engine(folder)
    log = (folder / "dockerd.log").open("ab")
    engine.process = subprocess.Popen(
        [
            program("dockerd") or "dockerd",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            f"--data-root={folder / 'data'}",
            f"--exec-root={folder / 'exec'}",
            f"--pidfile={folder / 'dockerd.pid'}",
            f"--host={engine.host}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PATH": _path()},
        start_new_session=True,  # a Ctrl+C of the tests does not reach it; stop() does
    )
    log.close()
    (folder / "pid").write_text(str(engine.process.pid))
    deadline = time.monotonic() + timeout
    while not (engine.socket.exists() and _ping(engine.socket)):
        if engine.process.poll() is not None or time.monotonic() > deadline:
            tail = (folder / "dockerd.log").read_text(errors="replace")[-3000:]
            stop(folder, engine.process)
            raise RuntimeError(f"dockerd did not start:\n{tail}")
        time.sleep(0.1)
    return engine


def _processes_under(folder: Path) -> Iterator[int]:
    """Processes whose command line names `folder`: dockerd's containerd and shims."""
    needle = str(folder).encode()
    for entry in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(entry, "rb") as handle:
                if needle in handle.read():
                    pid = int(entry.split("/")[2])
                    if pid != os.getpid():
                        yield pid
        except OSError:
            continue


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def mounts_under(folder: Path) -> list[str]:
    """Mount points inside `folder` (overlays, container namespaces, debootstrap's /proc)."""
    found = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4].encode().decode("unicode_escape")  # \040 for a space
            if point == str(folder) or point.startswith(f"{folder}/"):
                found.append(point)
    return found


def leftovers(folder: Path) -> list[str]:
    """What is still running or mounted for `folder`; empty after a good stop()."""
    return [f"process {pid}" for pid in _processes_under(folder) if _alive(pid)] + [
        f"mount {point}" for point in mounts_under(folder)
    ]


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def stop(folder: Path, process: subprocess.Popen[bytes] | None = None) -> None:
    """Stop dockerd (it stops its containers and containerd), then end and unmount what is left."""
    pid_file = folder / "pid"
    pid = process.pid if process is not None else int(pid_file.read_text()) if pid_file.exists() else None
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        if process is not None:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        elif _wait_gone([pid], 30):
            os.kill(pid, signal.SIGKILL)
    # Only processes this engine started (their command lines name its folder), by id.
    rest = [pid for pid in _processes_under(folder) if _alive(pid)]
    for pid in rest:
        os.kill(pid, signal.SIGTERM)
    for pid in _wait_gone(rest, 10):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(rest, 5)
    for point in sorted(mounts_under(folder), key=len, reverse=True):  # the deepest first
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)
    if (folder / "made-key-file").exists():
        KEY_FILE.unlink(missing_ok=True)
        (folder / "made-key-file").unlink()


def remove(folder: Path, process: subprocess.Popen[bytes] | None = None) -> None:
    """stop(), then delete the folder (images, volumes, the base's root file system)."""
    stop(folder, process)
    shutil.rmtree(folder, ignore_errors=True)


Entry = tuple[str, list[str], list[str]]  # an apt source: (uri, suites, components)


def apt_mirror(suite: str = SUITE) -> str:
    """The Debian mirror this machine's apt uses for `suite` (sources.list and sources.list.d)."""
    entries: list[Entry] = []
    for name in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]:
        entries += one_line_entries(_text_of(name))
    for name in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        entries += deb822_entries(_text_of(name))
    return mirror_for(suite, entries)


def mirror_for(suite: str, entries: list[Entry]) -> str:
    """The first HTTP(S) entry with `suite` and `main`, else Debian's own mirror."""
    for uri, suites, components in entries:
        if suite in suites and "main" in components and uri.startswith(("http://", "https://")):
            return uri.rstrip("/")
    return FALLBACK_MIRROR


def _text_of(name: str) -> str:
    try:
        return Path(name).read_text()
    except OSError:
        return ""


def one_line_entries(text: str) -> list[Entry]:
    """The `deb URI SUITE COMPONENT...` lines of a `.list` file (options in brackets skipped)."""
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        if words[1].startswith("["):  # options: [arch=amd64 signed-by=...]
            words = ["deb", *_after_options(words)]
        if len(words) >= 3:
            entries.append((words[1], [words[2]], words[3:]))
    return entries


def _after_options(words: list[str]) -> list[str]:
    """The words after the one closing `[...]` (none when it is never closed)."""
    for index, word in enumerate(words):
        if word.endswith("]"):
            return words[index + 1 :]
    return []


def deb822_entries(text: str) -> list[Entry]:
    """The enabled `Types: deb` stanzas of a `.sources` file, one entry per URI."""
    entries = []
    for stanza in text.split("\n\n"):
        fields = _stanza_fields(stanza)
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        suites, components = fields.get("suites", "").split(), fields.get("components", "").split()
        entries += [(uri, suites, components) for uri in fields.get("uris", "").split()]
    return entries


def _stanza_fields(stanza: str) -> dict[str, str]:
    """A deb822 stanza's fields by lower-case name, continuation lines joined."""
    fields: dict[str, str] = {}
    key = ""
    for line in stanza.splitlines():
        if line.startswith("#"):
            continue
        if line[:1] in (" ", "\t") and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def _proxy_env() -> dict[str, str]:
    """The environment, plus apt's own proxy setting when the environment names none."""
    env = {**os.environ, "PATH": _path()}
    if not (env.get("http_proxy") or env.get("HTTP_PROXY")) and shutil.which("apt-config"):
        result = subprocess.run(
            ["apt-config", "shell", "PROXY", "Acquire::http::Proxy"], capture_output=True, text=True, check=False
        )
        for word in shlex.split(result.stdout):
            if word.startswith("PROXY=") and word[6:]:
                env["http_proxy"] = word[6:]
    return env


def debootstrap(rootfs: Path, log: Path, mirror: str | None = None) -> subprocess.Popen[bytes]:
    """Start `debootstrap --variant=minbase --include=python3,python3-venv bookworm` (returns at once)."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                program("debootstrap") or "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(rootfs),
                mirror or apt_mirror(),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_proxy_env(),
        )


def import_base(engine: Engine, rootfs: Path, tag: str = BASE_IMAGE) -> None:
    """`tar -C ROOTFS -c . | docker import - TAG`, leaving out caches and documentation."""
    excludes = [f"--exclude=./{pattern}" for pattern in TRIMMED]
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", *excludes, "-c", "."], stdout=subprocess.PIPE)
    try:
        engine.docker("import", "--change", "ENV LANG=C.UTF-8", "-", tag, stdin=tar.stdout)
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0:
            raise RuntimeError(f"tar of {rootfs} failed")


def build_base_image(engine: Engine, tag: str = BASE_IMAGE, mirror: str | None = None) -> float:
    """debootstrap into the engine's folder and import the result as `tag`; seconds taken."""
    started = time.monotonic()
    rootfs = engine.folder / "rootfs"
    log = engine.folder / "debootstrap.log"
    if debootstrap(rootfs, log, mirror).wait() != 0:
        raise RuntimeError(f"debootstrap failed:\n{log.read_text(errors='replace')[-3000:]}")
    import_base(engine, rootfs, tag)
    shutil.rmtree(rootfs, ignore_errors=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "base-image", "stop"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    folder = args.folder.resolve()
    try:
        if args.action == "start":
            if missing := missing_programs():
                sys.exit(f"missing: apt-get install {' '.join(missing)}")
            engine = start(folder)
            print(f"DOCKER_HOST={engine.host}")
        elif args.action == "base-image":
            seconds = build_base_image(Engine(folder))
            print(f"{BASE_IMAGE} built in {seconds:.0f} s")
        else:
            stop(folder)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or ""
        sys.exit(f"{error}\n{detail}")


if __name__ == "__main__":
    main()
