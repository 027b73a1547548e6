"""Local API tokens: a file under the state dir that holds only salted hashes.

A token is `lgsp_` + 32 random bytes (url-safe base64): with 256 bits of entropy a salted
SHA-256 is as good as a slow hash, and checking it costs microseconds per request. The
file (mode 0600, in a 0700 directory) is replaced atomically on every change, so the
gateway re-reads it when its identity changes: a token created or revoked by
`lgsp tokens` takes effect within `RELOAD_S` without a restart.
"""

from __future__ import annotations

__all__ = [
    "ADMIN_TOKEN_FILE",
    "RELOAD_S",
    "StoredToken",
    "TokenStore",
    "default_tokens_file",
    "read_admin_token",
    "write_private",
]

import contextlib
import fcntl
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from gateway.auth.roles import Role
from gateway.errors import ConfigError, UnknownTokenError

RELOAD_S = 1.0
"""How often, at most, the gateway checks the token file for a change."""
ADMIN_TOKEN_FILE = "admin.token"  # noqa: S105 - a file name, not a secret
"""The first-start admin token, beside the store: `<state_dir>/auth/admin.token`."""
_PREFIX = "lgsp_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def default_tokens_file(state_dir: Path) -> Path:
    """Where the store lives unless `LGSP_AUTH__TOKENS_FILE` says otherwise."""
    return state_dir / "auth" / "tokens.json"


def read_admin_token(tokens_file: Path) -> str | None:
    """The generated admin token, if its file exists and this user may read it."""
    try:
        text = (tokens_file.parent / ADMIN_TOKEN_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600, directory 0700), atomically."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class StoredToken:
    """One token as stored: its name, role and dates; never the token itself."""

    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    salt: str
    digest: str

    def matches(self, token: str) -> bool:
        """Whether `token` is this one (constant-time comparison)."""
        return hmac.compare_digest(_digest(self.salt, token), self.digest)

    def expired(self, now: datetime) -> bool:
        """Whether it is past its expiry."""
        return self.expires_at is not None and now >= self.expires_at


def _digest(salt: str, token: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + token.encode()).hexdigest()


class TokenStore:
    """The token file: create, list, revoke (CLI) and look up (gateway, re-read on change)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tokens: tuple[StoredToken, ...] = ()
        self._identity: tuple[int, int, int] | None = None
        self._checked = 0.0

    @property
    def exists(self) -> bool:
        """Whether the store has ever been created."""
        return self.path.exists()

    # --- the gateway's side -------------------------------------------------------------

    def lookup(self, token: str, now: datetime | None = None) -> StoredToken | None:
        """The stored token `token` is, unless unknown, revoked or expired."""
        self._refresh()
        moment = now or datetime.now(UTC)
        if not token.startswith(_PREFIX):
            return None
        for stored in self._tokens:
            if stored.matches(token):
                return None if stored.expired(moment) else stored
        return None

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._identity is not None and now - self._checked < RELOAD_S:
            return
        self._checked = now
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._tokens, self._identity = (), (0, 0, 0)
            return
        except OSError as exc:
            raise ConfigError(f"cannot read the token store {self.path}: {exc.strerror}") \
                from exc
        identity = (st.st_ino, st.st_mtime_ns, st.st_size)
        if identity != self._identity:
            self._tokens = self._read()
            self._identity = identity

    # --- the CLI's side -----------------------------------------------------------------

    def all(self) -> list[StoredToken]:
        """Every token, by name."""
        return sorted(self._read(), key=lambda t: t.name)

    def create(self, name: str, role: Role, expires_at: datetime | None = None, *,
               only_if_new_store: bool = False) -> str | None:
        """Add a token and return it: the only moment it exists outside its holder's hands.

        With `only_if_new_store`, nothing happens (None) when the store already exists:
        the first-start token, decided under the same lock as the write, so gateways
        starting together create one.
        """
        if not _NAME.fullmatch(name):
            raise ConfigError(f"token name {name!r} must be 1-64 letters, digits, '.', '_' "
                              "or '-', starting with a letter or digit")
        token = _PREFIX + secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        with self._locked():
            if only_if_new_store and self.path.exists():
                return None
            tokens = list(self._read())
            if any(t.name == name for t in tokens):
                raise ConfigError(f"a token named {name} exists; revoke it first or choose "
                                  "another name")
            tokens.append(StoredToken(name, role, datetime.now(UTC), expires_at, salt,
                                      _digest(salt, token)))
            self._write(tokens)
        return token

    def revoke(self, name: str) -> StoredToken:
        """Remove a token; UnknownTokenError naming the known ones if there is none of that name."""
        with self._locked():
            tokens = list(self._read())
            found = next((t for t in tokens if t.name == name), None)
            if found is None:
                known = ", ".join(sorted(t.name for t in tokens)) or "none"
                raise UnknownTokenError(f"no token named {name} (tokens: {known})")
            self._write([t for t in tokens if t.name != name])
        admin_file = self.path.parent / ADMIN_TOKEN_FILE
        if found.name == "admin" and admin_file.exists():
            admin_file.unlink()  # a revoked token's plaintext must not linger on disk
        return found

    def initialise(self) -> None:
        """Create an empty store (so a later start knows it is not the first)."""
        with self._locked():
            if not self.path.exists():
                self._write([])

    # --- the file -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as exc:
            # e.g. a read-only mount: in Kubernetes the store is a Secret (deploy/k8s).
            raise ConfigError(f"cannot change the token store {self.path}: "
                              f"{exc.strerror or exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> tuple[StoredToken, ...]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return ()
        except OSError as exc:
            raise ConfigError(f"cannot read the token store {self.path}: {exc.strerror}") \
                from exc
        try:
            data = orjson.loads(raw)
            return tuple(
                StoredToken(
                    name=t["name"], role=Role(t["role"]),
                    created_at=datetime.fromisoformat(t["created_at"]),
                    expires_at=datetime.fromisoformat(t["expires_at"])
                    if t.get("expires_at") else None,
                    salt=t["salt"], digest=t["sha256"])
                for t in data["tokens"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the token store {self.path} is damaged: {exc}") from exc

    def _write(self, tokens: Sequence[StoredToken]) -> None:
        data: dict[str, object] = {"version": 1, "tokens": [
            {"name": t.name, "role": t.role.value, "created_at": t.created_at.isoformat(),
             "expires_at": t.expires_at.isoformat() if t.expires_at else None,
             "salt": t.salt, "sha256": t.digest}
            for t in tokens]}
        try:
            write_private(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2))
        except OSError as exc:
            raise ConfigError(f"cannot write the token store {self.path}: "
                              f"{exc.strerror or exc}") from exc
