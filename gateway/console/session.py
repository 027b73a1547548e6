"""The console's session: a cookie sealed with Fernet (AES-CBC + HMAC, `cryptography`).

The cookie holds the bearer token the person signed in with and the session's CSRF
token. Nothing is kept on the server, so every gateway sharing the key file serves the
same sessions, and the token is checked again on every request: a token revoked with
`lgsp tokens revoke`, or an identity-provider JWT past its `exp`, ends the session at
once. Fernet's timestamp bounds the session's age (`LGSP_CONSOLE__SESSION_TTL_S`).
"""

from __future__ import annotations

__all__ = ["COOKIE", "Session", "SessionSealer", "load_session_key"]

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken

from gateway.auth.tokens import write_private
from gateway.errors import ConfigError

COOKIE = "lgsp_console"
"""The session cookie's name."""


@dataclass(frozen=True, slots=True)
class Session:
    """One signed-in browser: the token it proved itself with, and its CSRF token."""

    token: str
    csrf: str
    started_at: float

    @classmethod
    def start(cls, token: str, now: float | None = None) -> Session:
        """A new session for `token`, with a fresh synchronizer token."""
        return cls(token=token, csrf=secrets.token_urlsafe(32),
                   started_at=time.time() if now is None else now)


class SessionSealer:
    """Seals sessions into cookie values and opens them again (None when not ours,
    tampered with, or older than `ttl_s`)."""

    def __init__(self, key: bytes, ttl_s: int) -> None:
        self._fernet = Fernet(key)
        self.ttl_s = ttl_s

    def seal(self, session: Session) -> str:
        """The cookie value of a session."""
        data = orjson.dumps({"t": session.token, "c": session.csrf})
        return self._fernet.encrypt_at_time(data, int(session.started_at)).decode()

    def open(self, value: str | None, now: float | None = None) -> Session | None:
        """The session in a cookie value, if it is a valid, unexpired one."""
        if not value:
            return None
        moment = int(time.time() if now is None else now)
        try:
            raw = self._fernet.decrypt_at_time(value.encode(), self.ttl_s, moment)
            started = self._fernet.extract_timestamp(value.encode())
            data = orjson.loads(raw)
            return Session(token=str(data["t"]), csrf=str(data["c"]),
                           started_at=float(started))
        except (InvalidToken, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


def load_session_key(path: Path) -> bytes:
    """The Fernet key in `path`, created (0600) on first use; ConfigError if unreadable.

    Gateways starting together agree on one key: the file is made by a hard link, which
    fails if another process made it first, and then that one's key is read.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        write_private(tmp, Fernet.generate_key() + b"\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return _read_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot create the console session key {path}: "
                          f"{exc.strerror or exc}") from exc


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"cannot read the console session key {path}: "
                          f"{exc.strerror or exc}") from exc
    try:
        Fernet(key)
    except ValueError as exc:
        raise ConfigError(f"the console session key {path} is not a Fernet key "
                          "(delete it to make a new one; everyone signs in again)") from exc
    return key
