"""How CLI commands prove who runs them: `--token` / `LGSP_TOKEN`, else the first-start
admin token file when this user can read it.

Commands that call the admin API send the token as `Authorization: Bearer`. Commands
that read Kafka directly (`lgsp replay`, `lgsp trace`) check it here with the gateway's
own settings (token store or identity provider) and the same role table, so the replay
audit names an authenticated subject either way.
"""

from __future__ import annotations

import argparse
import getpass
import os

from gateway.auth import (
    Authenticator,
    Principal,
    Role,
    permission_for,
    read_admin_token,
    tokens_file,
)
from gateway.errors import ForbiddenError, UnauthenticatedError
from gateway.settings import Settings

__all__ = ["add_token_option", "check_locally", "os_login", "resolve_token"]


def add_token_option(parser: argparse.ArgumentParser) -> None:
    """`--token TOKEN` (env LGSP_TOKEN)."""
    parser.add_argument("--token", default=None, metavar="TOKEN",
                        help="admin API bearer token: a local token (lgsp tokens create) or "
                        "an identity-provider JWT (env LGSP_TOKEN; default: the gateway's "
                        "first-start admin token file, if this user can read it)")


def resolve_token(args: argparse.Namespace, settings: Settings) -> str | None:
    """`--token`, LGSP_TOKEN, or the generated admin token file; None if none is there."""
    given: str | None = getattr(args, "token", None) or os.environ.get("LGSP_TOKEN")
    if given:
        return given.strip()
    return read_admin_token(tokens_file(settings))


async def check_locally(args: argparse.Namespace, settings: Settings, method: str,
                        path: str) -> Principal:
    """The caller of a Kafka-direct command, allowed as the API would allow `method path`.

    With `LGSP_AUTH__MODE=none` the subject is the OS user (`os:<login>`).
    """
    if settings.auth.mode == "none":
        return Principal(f"os:{os_login()}", frozenset({Role.ADMIN}))
    token = resolve_token(args, settings)
    if token is None:
        raise UnauthenticatedError(
            "authentication required: give a token with --token or LGSP_TOKEN")
    # Loopback or not does not matter here: mode none was handled above.
    authenticator = Authenticator.from_settings(settings.model_copy(update={"host": "127.0.0.1"}))
    await authenticator.start()
    principal = await authenticator.authenticate(f"Bearer {token}")
    try:
        authenticator.authorize(principal, permission_for(method, path))
    except ForbiddenError as exc:
        raise ForbiddenError(f"not allowed: {exc}") from None
    return principal


def os_login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
