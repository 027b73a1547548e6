"""`lgsp tokens create|list|revoke`: the gateway's local API tokens.

They work on the token store in the state dir (`LGSP_STATE_DIR`, or
`LGSP_AUTH__TOKENS_FILE`), not through the admin API: the first token has to come from
somewhere, a lost admin token must be recoverable by whoever runs the gateway, and file
permissions (0600) already say who that is. A running gateway re-reads the store within
a second or so. Each change is written to the audit trail when Kafka can be reached.
"""

from __future__ import annotations

import argparse
import re
import socket
from datetime import UTC, datetime, timedelta

from gateway.audit.event import AuditEvent, Result
from gateway.audit.trail import record_from_cli
from gateway.auth import ROLES, Role, TokenStore, tokens_file
from gateway.cli._auth import os_login
from gateway.cli._base import CommandParser, add_config_option, settings_from
from gateway.errors import AuditError

_DURATION = re.compile(r"^(\d{1,6})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp tokens ...`."""
    group = sub.add_parser(
        "tokens", help="create, list and revoke the admin API's local tokens",
        description="Local API tokens for the admin API, kept as salted hashes in the "
        "token store under the state dir (mode 0600). Changes take effect in a running "
        "gateway within seconds. Roles: " + ", ".join(r.value for r in ROLES) + ".")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, help_text: str) -> CommandParser:
        parser: CommandParser = verbs.add_parser(name, help=help_text, description=help_text)
        add_config_option(parser)
        return parser

    def no_audit(parser: CommandParser) -> None:
        parser.add_argument(
            "--no-audit", action="store_true",
            help="do not write the audit trail (only for a store no gateway reads from this "
            "machine, e.g. tokens.json of a Kubernetes Secret, whose change the cluster's "
            "own audit log records)")

    create = verb("create", "create a token; it is printed once, alone on the last line")
    create.add_argument("--name", required=True, metavar="NAME",
                        help="unique name (letters, digits, . _ -), e.g. ci-deploy")
    create.add_argument("--role", required=True, choices=[r.value for r in ROLES])
    create.add_argument("--expires", type=_duration, default=None, metavar="AGE",
                        help="expire after AGE: 90m, 12h, 30d, 2w (default: never)")
    no_audit(create)
    create.set_defaults(handler=_create)
    listing = verb("list", "list tokens (name, role, created, expires); never the tokens")
    listing.set_defaults(handler=_list)
    revoke = verb("revoke", "revoke a token by name; refused within seconds")
    revoke.add_argument("name", metavar="NAME")
    no_audit(revoke)
    revoke.set_defaults(handler=_revoke)


def _duration(text: str) -> timedelta:
    found = _DURATION.fullmatch(text.strip())
    if found is None or int(found[1]) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age such as 90m, 12h, 30d, 2w")
    return timedelta(**{_UNITS[found[2]]: int(found[1])})


async def _create(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = TokenStore(tokens_file(settings))
    expires = datetime.now(UTC) + args.expires if args.expires else None
    token = store.create(args.name, Role(args.role), expires)
    if args.no_audit:
        return _show(args, token, expires)
    event = _event("token.create", args.name,
                   f"role {args.role}" + (f", expires {expires:%Y-%m-%d %H:%M}Z" if expires
                                           else ""))
    try:
        await record_from_cli(settings, event)
    except AuditError as exc:
        store.revoke(args.name)  # a token nobody can account for must not exist
        raise AuditError(f"token not created: {exc}") from exc
    return _show(args, token, expires)


def _show(args: argparse.Namespace, token: str | None, expires: datetime | None) -> int:
    print(f"created token {args.name} (role {args.role}, "
          f"{'expires ' + expires.strftime('%Y-%m-%d %H:%M UTC') if expires else 'no expiry'})"
          "; it is shown only now:")
    print(token)
    return 0


async def _list(args: argparse.Namespace) -> int:
    tokens = TokenStore(tokens_file(settings_from(args))).all()
    if not tokens:
        print("no tokens")
        return 0
    rows = [["NAME", "ROLE", "CREATED", "EXPIRES"]]
    now = datetime.now(UTC)
    for t in tokens:
        expiry = "never" if t.expires_at is None else (
            t.expires_at.strftime("%Y-%m-%d %H:%M") + (" (expired)" if t.expired(now) else ""))
        rows.append([t.name, t.role.value, t.created_at.strftime("%Y-%m-%d %H:%M"), expiry])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    found = TokenStore(tokens_file(settings)).revoke(args.name)
    print(f"revoked token {found.name} (role {found.role.value})", flush=True)
    # Revocation is never held back by the audit trail; a failure to record it is an error.
    if not args.no_audit:
        await record_from_cli(settings, _event("token.revoke", found.name, None))
    return 0


def _event(action: str, name: str, detail: str | None) -> AuditEvent:
    return AuditEvent(subject=f"os:{os_login()}", action=action, target=f"token {name}",
                      client=f"cli@{socket.gethostname()}", result=Result.SUCCESS,
                      detail=detail)
