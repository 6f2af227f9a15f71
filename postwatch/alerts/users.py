"""Who may use the review console, and as what: the users file, its hashed tokens, roles and
sessions.

Roles, each allowed what the one before it is: `viewer` reads the queue and the alerts,
`reviewer` also records verdicts, `admin` also sees who the console's users are (packs and
banks are published with `postwatch rules publish`, which the broker's own access control
governs).

The users file is TOML, one table a user; only a hash of each token is kept (scrypt, a salt
of its own per user), and `postwatch alerts users add` writes it::

    [users."ana"]
    role = "reviewer"
    token = "scrypt$16384$8$1$<salt, hex>$<hash, hex>"

    [users."bo@example.org"]     # signs in through the single sign-on proxy only: no token
    role = "viewer"

A token is `NAME.SECRET`: the name says which entry to check it against, so that checking a
token costs one scrypt whatever the number of users. The file is read again when it
changes, so that a user added, removed or given another role or token counts at once, also
for the sessions already open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
import tomllib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import structlog

from postwatch.alerts import AlertsError

__all__ = [
    "ROLES",
    "Directory",
    "Role",
    "Session",
    "Sessions",
    "User",
    "UsersError",
    "add_user",
    "hash_token",
    "load_users",
    "may",
    "remove_user",
    "verify_token",
]

log = structlog.get_logger(__name__)

Role = Literal["viewer", "reviewer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}")
"""A user's name: what decisions record (at most 200 characters), a login or an e-mail
address as a single sign-on proxy passes it."""

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
"""scrypt's cost (16 MiB, some 50 ms a check): a console checks a token once, at sign-in."""
_SALT_BYTES, _HASH_BYTES = 16, 32
_SECRET_BYTES = 32
_RELOAD_S = 1.0
"""The users file is looked at (its size and time) at most this often."""
SESSION_MAX_S = 7 * 86400.0
"""A session lasts this long at most from sign-in: a console open for days keeps working."""
_SESSIONS_MAX = 10_000
"""Sessions kept at most; the oldest go first."""


class UsersError(AlertsError):
    """The users file cannot be read or written, or holds what is no user; the message names
    the file and the entry."""


@dataclass(frozen=True, slots=True)
class User:
    """One user: a name, a role, and the hash of a token (None: signs in by proxy only)."""

    name: str
    role: Role
    token_hash: str | None = None


def may(role: Role, needed: Role) -> bool:
    """Whether `role` is allowed what `needed` is."""
    return ROLES.index(role) >= ROLES.index(needed)


def hash_token(token: str, salt: bytes | None = None) -> str:
    """The stored form of a token: scrypt with its cost and salt (random unless given)."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.scrypt(
        token.encode("utf-8", "surrogatepass"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=_HASH_BYTES,
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


_STORED = re.compile(r"scrypt\$(\d+)\$(\d+)\$(\d+)\$([0-9a-f]{2,128})\$([0-9a-f]{32,128})")


def verify_token(token: str, stored: str) -> bool:
    """Whether `token` is the one `stored` is the hash of (compared in constant time). A
    stored form that is none is no match."""
    found = _STORED.fullmatch(stored)
    if not found:
        return False
    n, r, p = (int(found[i]) for i in (1, 2, 3))
    expected = bytes.fromhex(found[5])
    try:
        digest = hashlib.scrypt(
            token.encode("utf-8", "surrogatepass"),
            salt=bytes.fromhex(found[4]),
            n=n,
            r=r,
            p=p,
            maxmem=256 * 1024 * 1024,
            dklen=len(expected),
        )
    except ValueError:  # a cost scrypt refuses (n no power of two, too much memory)
        return False
    return hmac.compare_digest(digest, expected)


def load_users(path: Path) -> dict[str, User]:
    """The users of a users file, by name; raises UsersError naming what is wrong."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsersError(f"cannot read the users file {path}: {exc}") from exc
    table = data.get("users", {})
    unknown = sorted(set(data) - {"users"})
    if unknown or not isinstance(table, dict):
        raise UsersError(f"{path}: a users file holds [users.NAME] tables only")
    users = {}
    for name, entry in table.items():
        where = f"{path}: user {name!r}"
        if not NAME.fullmatch(name):
            raise UsersError(f"{where}: a name holds letters, digits and . _ @ + -")
        if not isinstance(entry, dict) or set(entry) - {"role", "token"}:
            raise UsersError(f"{where}: an entry holds a role and, optionally, a token")
        role, token = entry.get("role"), entry.get("token")
        if role not in ROLES:
            raise UsersError(f"{where}: role must be one of {', '.join(ROLES)}: {role!r}")
        if token is not None and not (isinstance(token, str) and _STORED.fullmatch(token)):
            raise UsersError(f"{where}: token is no scrypt hash (make one with `users add`)")
        users[name] = User(name, role, token)
    return users


def _write(path: Path, users: dict[str, User]) -> None:
    """Write the users file whole (a new file moved over the old, readable by its owner
    only), so that a server reading it never sees half of it."""
    lines = ["# postwatch review console users: `postwatch alerts users add|remove`", ""]
    for user in users.values():
        lines.append(f'[users."{user.name}"]')  # NAME allows nothing TOML would escape
        lines.append(f'role = "{user.role}"')
        if user.token_hash:
            lines.append(f'token = "{user.token_hash}"')
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_user(
    path: Path, name: str, role: Role, *, token: bool = True, replace: bool = False
) -> str:
    """Add a user to the users file (created if missing), or with `replace` give one a new
    role and token; returns the new token, shown this once ("" with `token` False: the user
    signs in through the proxy only). Raises UsersError."""
    if not NAME.fullmatch(name):
        raise UsersError(f"not a user name: {name!r} (letters, digits and . _ @ + -)")
    users = load_users(path) if path.exists() else {}
    if name in users and not replace:
        raise UsersError(f"{path}: user {name!r} exists (--replace gives a new role and token)")
    secret = f"{name}.{secrets.token_urlsafe(_SECRET_BYTES)}" if token else ""
    users[name] = User(name, role, hash_token(secret) if token else None)
    _write(path, users)
    return secret


def remove_user(path: Path, name: str) -> None:
    """Remove a user from the users file: the user's sessions end at their next request."""
    users = load_users(path)
    if users.pop(name, None) is None:
        raise UsersError(f"{path}: no user {name!r}")
    _write(path, users)


class Directory:
    """The users file as it is now: read again when its size or time changes (looked at once
    a `_RELOAD_S` at most). A file that no longer reads keeps the users read last, and says
    so in the log. Token checks that succeeded are remembered (by a hash of the token) until
    the file changes, so that a script asking with `Authorization: Bearer` costs one scrypt."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._users = load_users(path)
        self._stamp = self._stat()
        self._looked = clock()
        self._checked: set[bytes] = set()

    def _stat(self) -> tuple[int, int]:
        try:
            status = self.path.stat()
        except OSError:
            return (-1, -1)
        return (status.st_size, status.st_mtime_ns)

    def users(self) -> dict[str, User]:
        with self._lock:
            now = self._clock()
            if now - self._looked >= _RELOAD_S:
                self._looked = now
                stamp = self._stat()
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self._users = load_users(self.path)
                    except UsersError as exc:
                        log.warning("users.unreadable", error=str(exc))
                    self._checked = set()
            return self._users

    def get(self, name: str) -> User | None:
        return self.users().get(name)

    def by_token(self, token: str) -> User | None:
        """The user whose token this is, or None."""
        name = token.rpartition(".")[0]
        user = self.get(name)
        if user is None or user.token_hash is None:
            return None
        key = hashlib.sha256(f"{user.token_hash}\x1f{token}".encode("utf-8", "surrogatepass"))
        if key.digest() in self._checked:
            return user
        if not verify_token(token, user.token_hash):
            return None
        with self._lock:
            self._checked.add(key.digest())
        return user


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: whose, how (`token`: the credential is the token's hash, so that a
    new token ends the session; `proxy`: the credential is empty), its CSRF token, since when."""

    id: str
    user: str
    via: Literal["token", "proxy"]
    credential: str
    csrf: str
    started: float


class Sessions:
    """The sessions of one server, in memory (a restart signs browsers out; behind the proxy
    they are signed in again on their next request)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def start(self, user: str, via: Literal["token", "proxy"], credential: str) -> Session:
        session = Session(
            id=secrets.token_urlsafe(_SECRET_BYTES),
            user=user,
            via=via,
            credential=credential,
            csrf=secrets.token_urlsafe(_SECRET_BYTES),
            started=self._clock(),
        )
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > _SESSIONS_MAX:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The session of this id while it lasts, or None."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None and self._clock() - session.started > SESSION_MAX_S:
                del self._sessions[session_id]
                return None
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)
