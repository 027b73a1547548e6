"""`lgsp audit list|verify`: read and check the signed audit trail (Kafka directly).

No token is asked for: reading the trail needs Kafka access, and verifying it needs only
the gateway's public key, so an auditor outside the operations team can run it.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path

from gateway.audit.chain import stored, verify_chain
from gateway.audit.keys import audit_key_file, load_public_keys
from gateway.audit.trail import read_trail
from gateway.cli._base import CommandParser
from gateway.cli._replay import Connection, add_connection_options, connect, kafka_named
from gateway.cli._replay import _time as past_time
from gateway.errors import AuditError, ContractError


def register(sub: argparse._SubParsersAction[CommandParser]) -> None:
    """Add `lgsp audit ...`."""
    group = sub.add_parser(
        "audit", help="list and verify the signed audit trail of changes",
        description="Every change made through the admin API or the CLI (connectors, "
        "replays, tokens) is a signed, hash-chained record on the audit topic. Reads Kafka "
        "directly (--bootstrap-servers or LGSP_BOOTSTRAP_SERVERS).")
    verbs = group.add_subparsers(dest="verb", metavar="VERB", required=True)
    listing: CommandParser = verbs.add_parser(
        "list", help="list changes, oldest first", description="List audit records: time, "
        "subject, action, target, client, result.")
    add_connection_options(listing, token=False)
    listing.add_argument("--since", type=past_time, default=None, metavar="TIME",
                         help="only records at or after TIME: ISO-8601 or an age (30m, 2h, 3d)")
    listing.set_defaults(handler=_list)
    verify: CommandParser = verbs.add_parser(
        "verify", help="check every signature and hash link; exit 1 naming the first break",
        description="Check that no record was altered, deleted or inserted: every "
        "record's Ed25519 signature and its link to the one before it. Exit 0 when intact, "
        "1 naming the first broken record.")
    add_connection_options(verify, token=False)
    verify.add_argument("--public-key", type=Path, action="append", default=[],
                        metavar="PEM", help="gateway public key(s) to accept (repeatable; "
                        "default: the signing key in the state dir)")
    verify.set_defaults(handler=_verify)


async def _values(conn: Connection) -> list[tuple[int, bytes]]:
    with kafka_named(conn.settings.bootstrap_servers):
        return await read_trail(conn.settings.bootstrap_servers, conn.topics.audit)


async def _list(args: argparse.Namespace) -> int:
    conn = await connect(args)
    since: datetime | None = args.since
    rows = [["TIME", "SUBJECT", "ACTION", "TARGET", "CLIENT", "RESULT"]]
    for offset, value in await _values(conn):
        try:
            record = stored(offset, conn.codec.decode(value))
        except (ContractError, KeyError, ValueError) as exc:
            rows.append(["?", "?", "?", f"(unreadable record at offset {offset}: {exc})",
                         "", ""])
            continue
        if since is not None and record.recorded_at < since:
            continue
        result = record.result.value + (f" {record.status}" if record.status else "")
        if record.detail:
            result += f" ({record.detail})"
        rows.append([record.recorded_at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
                     record.subject, record.action, record.target, record.client, result])
    if len(rows) == 1:
        print(f"no audit records in {conn.topics.audit}")
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)),
                         row[-1]]).rstrip())
    return 0


async def _verify(args: argparse.Namespace) -> int:
    conn = await connect(args)
    paths: list[Path] = args.public_key or [audit_key_file(conn.settings)]
    if not args.public_key and not paths[0].exists():
        raise AuditError(f"no gateway key at {paths[0]}; give the public key with "
                         "--public-key (signing.pub beside the gateway's key)")
    keys = await asyncio.to_thread(load_public_keys, paths)
    values = await _values(conn)
    checked, broken = verify_chain(conn.codec, values, keys)
    if broken is not None:
        raise AuditError(f"audit trail {conn.topics.audit} is broken: {broken} "
                         f"({checked} records before it are intact)")
    print(f"audit trail {conn.topics.audit} intact: {checked} records, every signature and "
          "link checked")
    return 0
