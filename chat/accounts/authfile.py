"""`auth.yaml`: the one list of who may sign in.

Reading is cached by the file's stat signature, so a change made by
`python -m chat users` is seen on the next page run without a restart. Writing
goes through `edit_auth_file` only: under a file lock, into a temp file that is
renamed over the original, with comments and other users kept as they were.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bcrypt
from filelock import FileLock, Timeout
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarbool import ScalarBoolean

from chat.accounts.yamlfile import read_document, write_atomically
from chat.errors import ConfigError, InputError

log = logging.getLogger(__name__)

ROLES = ("admin", "user")
BCRYPT_ROUNDS = 12
MIN_PASSWORD_LENGTH = 8
# bcrypt reads at most 72 bytes; bcrypt 5 refuses longer input outright.
MAX_PASSWORD_BYTES = 72

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@+-]{0,63}$")
_BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")

HEADER = """\
Parley's users. Edit with `python -m chat users add|passwd|remove|list`, not by hand:
passwords are stored only as bcrypt hashes, and a plaintext one stops Parley.
"""


@dataclass(frozen=True)
class User:
    username: str
    name: str
    password_hash: str
    roles: tuple[str, ...]
    # Set for an account whose password was printed (the first admin): it must be
    # changed at the first sign-in.
    must_change_password: bool = False
    # Per-user quota overrides (None: the settings' default; 0: no limit).
    messages_per_minute: int | None = None
    tokens_per_day: int | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def normalise_username(raw: str) -> str:
    """Normalise a username exactly as the login form does (strip, lower-case)."""
    username = raw.strip().lower()
    if not _USERNAME.match(username):
        raise InputError(
            f"{raw!r} is not a usable username: use 1 to 64 letters, digits or . _ @ + -, "
            "starting with a letter or digit."
        )
    return username


def check_password(password: str) -> None:
    """Refuse passwords that the login form could never match."""
    if password != password.strip():
        # The login form strips what is typed, so such a password could never sign in.
        raise InputError("The password must not start or end with spaces.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InputError(f"The password must be at most {MAX_PASSWORD_BYTES} bytes long.")


def hash_password(password: str) -> str:
    check_password(password)
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


# --- reading ---------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int, int], dict[str, User]]] = {}


def load_users(path: Path) -> dict[str, User]:
    """All users in `path`, validated. Re-read only when the file changes."""
    path = Path(path).resolve()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            f"{path.name} does not exist. Create the first user with: python -m chat users add admin --role admin"
        ) from None
    signature = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    with _cache_lock:
        cached = _cache.get(path)
        if cached and cached[0] == signature:
            return cached[1]
    users = _parse_users(read_document(path), path.name)
    with _cache_lock:
        _cache[path] = (signature, users)
    return users


@dataclass(frozen=True)
class UsersRead:
    """The users the app goes by, and why the file on disk is not them (None: it is)."""

    users: dict[str, User]
    problem: str | None = None
    good_since: datetime | None = None  # when the copy in use was read


_last_good: dict[Path, tuple[dict[str, User], datetime]] = {}
_reported: dict[Path, str] = {}


def load_users_keeping_last_good(path: Path) -> UsersRead:
    """The users for a running app: the file, or while it is broken (a hand edit gone
    wrong, a half-copied file) the last good copy this process read, so that nobody is
    signed out by a typo. Raises ConfigError only when there is no good copy (new
    sign-ins are refused). A newly broken file is logged once."""
    path = Path(path).resolve()
    try:
        users = load_users(path)
        if not users and _last_good.get(path, ({},))[0]:
            # An emptied file (truncated by an editor, half copied) reads as valid YAML;
            # taken at its word it would sign every user out.
            raise ConfigError(f"{path.name} lists no users; it may be empty or half written.")
    except ConfigError as error:
        with _cache_lock:
            good = _last_good.get(path)
            first_report = _reported.get(path) != error.message
            _reported[path] = error.message
        if first_report and good is None:
            log.error("%s New sign-ins are refused until it is fixed.", error.message)
        elif first_report and good is not None:
            log.error("%s Parley keeps the last good copy, read at %s UTC.", error.message, f"{good[1]:%H:%M:%S}")
        if good is None:
            raise
        return UsersRead(good[0], error.message, good[1])
    with _cache_lock:
        if _last_good.get(path, (None,))[0] is not users:
            _last_good[path] = (users, datetime.now(UTC))
        if _reported.pop(path, None) is not None:
            log.info("%s is readable again; Parley uses it.", path.name)
    return UsersRead(users)


def _users_section(document: CommentedMap, filename: str) -> dict[str, Any]:
    credentials = document.get("credentials")
    if credentials is None:
        return {}
    if not isinstance(credentials, dict):
        raise ConfigError(
            f"{filename}: 'credentials' must be a mapping with a 'usernames' section, not {_kind(credentials)}."
        )
    users = credentials.get("usernames")
    if users is None:
        return {}
    if not isinstance(users, dict):
        raise ConfigError(f"{filename}: 'credentials.usernames' must be a mapping of users, not {_kind(users)}.")
    return users


def _kind(value: Any) -> str:
    """A YAML value's type in words, for an error message (never the value: it may be a hash)."""
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        ((bool, ScalarBoolean), "true/false"),
        ((int, float), "a number"),
        (str, "text"),
        (list, "a list"),
        (dict, "a mapping"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "an empty value")


def _parse_users(document: CommentedMap, filename: str) -> dict[str, User]:
    users: dict[str, User] = {}
    for raw_name, entry in _users_section(document, filename).items():
        if not isinstance(raw_name, str):
            raise ConfigError(f"{filename}: username {raw_name!r} must be text; put it in quotes.")
        username = raw_name
        if username != username.strip().lower() or not _USERNAME.match(username):
            raise ConfigError(f"{filename}: username {username!r} must be lower-case letters, digits or . _ @ + -.")
        if not isinstance(entry, dict):
            raise ConfigError(f"{filename}: user {username!r} must be a mapping, not {_kind(entry)}.")
        password = entry.get("password")
        if not isinstance(password, str) or not _BCRYPT_HASH.match(password):
            raise ConfigError(
                f"{filename}: user {username!r} has a plaintext or malformed password. "
                f"Set it with: python -m chat users passwd {username}"
            )
        users[username] = User(
            username=username,
            name=_name(entry.get("name"), username, filename),
            password_hash=password,
            roles=_roles(entry.get("roles"), username, filename),
            must_change_password=_flag(entry.get("must_change_password"), username, filename),
            **_quota(entry.get("quota"), username, filename),
        )
    return users


def _name(value: Any, username: str, filename: str) -> str:
    if value is None:
        return username
    if not isinstance(value, str):
        raise ConfigError(f"{filename}: user {username!r}: 'name' must be text, not {_kind(value)}; put it in quotes.")
    return value or username


def _roles(value: Any, username: str, filename: str) -> tuple[str, ...]:
    """A list of known role names. Anything else is refused, never read loosely: the keys of
    `roles: {admin: false}` would otherwise make an admin."""
    if value is None:
        return ("user",)
    if not isinstance(value, list) or not all(isinstance(role, str) for role in value):
        raise ConfigError(
            f"{filename}: user {username!r}: 'roles' must be a list of role names such as [user], not {_kind(value)}."
        )
    unknown = [role for role in value if role not in ROLES]
    if unknown:
        raise ConfigError(
            f"{filename}: user {username!r} has unknown role(s) {', '.join(unknown)}; "
            f"known roles are {', '.join(ROLES)}."
        )
    return tuple(value) or ("user",)


def _flag(value: Any, username: str, filename: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool | ScalarBoolean):  # ScalarBoolean: an anchored true/false
        raise ConfigError(
            f"{filename}: user {username!r}: 'must_change_password' must be true or false (unquoted), "
            f"not {_kind(value)}."
        )
    return bool(value)


QUOTA_KEYS = ("messages_per_minute", "tokens_per_day")


def _quota(section: Any, username: str, filename: str) -> dict[str, int | None]:
    if section is None:
        return {}
    if not isinstance(section, dict) or set(section) - set(QUOTA_KEYS):
        raise ConfigError(f"{filename}: user {username!r}: 'quota' may only set {' and '.join(QUOTA_KEYS)}.")
    limits: dict[str, int | None] = {}
    for key, value in section.items():
        if isinstance(value, bool | ScalarBoolean) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{filename}: user {username!r}: quota {key} must be a whole number >= 0 (0: no limit).")
        limits[str(key)] = value
    return limits


# --- writing ---------------------------------------------------------------------------


class AuthFileEditor:
    """The users of one locked `auth.yaml` document, changed in memory."""

    def __init__(self, document: CommentedMap, filename: str) -> None:
        self.document = document
        self.filename = filename

    @property
    def _users(self) -> CommentedMap:
        credentials = self.document.setdefault("credentials", CommentedMap())
        users = credentials.get("usernames")
        if not isinstance(users, CommentedMap):
            users = CommentedMap()
            credentials["usernames"] = users
        return users

    def users(self) -> dict[str, User]:
        return _parse_users(self.document, self.filename)

    def add(
        self, username: str, password_hash: str, *, name: str, roles: list[str], must_change_password: bool = False
    ) -> None:
        if username in self._users:
            raise InputError(f"User {username!r} already exists.")
        entry = CommentedMap()
        entry["name"] = name
        entry["password"] = password_hash
        entry["roles"] = list(roles)
        if must_change_password:
            entry["must_change_password"] = True
        self._users[username] = entry

    def set_password(self, username: str, password_hash: str, *, expected_hash: str | None = None) -> None:
        """Replace the password hash (and end a forced change). With `expected_hash`,
        only if the current hash is still that one: a check made before the lock
        must not approve a change after another one."""
        entry = self._require(username)
        if expected_hash is not None and entry.get("password") != expected_hash:
            raise InputError("The password was changed meanwhile; sign in again.")
        entry["password"] = password_hash
        entry.pop("must_change_password", None)

    def set_quota(self, username: str, **limits: int | None) -> None:
        """Set (an int, 0 for no limit) or clear (None) the user's quota overrides."""
        entry = self._require(username)
        quota = entry.get("quota")
        if not isinstance(quota, CommentedMap):
            quota = CommentedMap()
        for key, value in limits.items():
            if key not in QUOTA_KEYS:
                raise InputError(f"Unknown quota {key!r}.")
            if value is None:
                quota.pop(key, None)
            else:
                quota[key] = value
        if quota:
            entry["quota"] = quota
        else:
            entry.pop("quota", None)

    def remove(self, username: str) -> None:
        self._require(username)
        del self._users[username]

    def _require(self, username: str) -> CommentedMap:
        entry = self._users.get(username)
        if not isinstance(entry, CommentedMap):
            raise InputError(f"There is no user {username!r}.")
        return entry


@contextmanager
def edit_auth_file(path: Path, *, lock_timeout: float = 10.0) -> Iterator[AuthFileEditor]:
    """Lock `path`, hand out its users for editing, then replace it atomically.

    Nothing is written if the block raises. The lock is a sibling `.lock` file, so
    two CLI runs (or the app's password change, later) never interleave.
    """
    path = Path(path)
    # 0600 whatever the umask (`docker exec` does not get the entrypoint's): the folder is private.
    lock = FileLock(str(path) + ".lock", timeout=lock_timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(f"{path.name} is locked by another process; try again.") from None
    try:
        if path.exists():
            document = read_document(path)
        else:
            document = CommentedMap()
            document.yaml_set_start_comment(HEADER)
        editor = AuthFileEditor(document, path.name)
        yield editor
        editor.users()  # validate before writing: never leave a file Parley cannot start with
        write_atomically(path, document)
    finally:
        lock.release()
