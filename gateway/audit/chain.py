"""Signed, hash-chained audit records: how one is sealed and how a topic of them is checked.

Pure logic (no Kafka): `seal` makes the Kafka value of a record, `verify_chain` walks the
values of a topic in offset order and names the first record that was altered, deleted
or inserted. Each writer process keeps its own chain (see schemas/avro/gateway.audit),
so concurrent writers never fork one another's chain.
"""

from __future__ import annotations

__all__ = [
    "AUDIT_SCHEMA",
    "GENESIS",
    "Broken",
    "ChainHead",
    "StoredAudit",
    "digest",
    "seal",
    "verify_chain",
]

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit.event import AuditEvent, Result
from gateway.audit.keys import SigningKey, signature_valid
from gateway.contracts import Codec
from gateway.errors import ContractError

AUDIT_SCHEMA = "gateway.audit"
GENESIS = bytes(32)
"""prev_sha256 of a first record when the topic was empty."""


def digest(value: bytes) -> bytes:
    """What the next record of a chain carries as prev_sha256."""
    return hashlib.sha256(value).digest()


@dataclass(slots=True)
class ChainHead:
    """Where a writer's chain stands: its id, the next seq, the last record's digest."""

    writer: str
    seq: int
    prev: bytes


def seal(codec: Codec, key: SigningKey, head: ChainHead, event: AuditEvent) -> bytes:
    """The signed Kafka value of `event` as the next record of `head` (not advanced)."""
    schema = codec.registry.latest(AUDIT_SCHEMA)
    datum: dict[str, Any] = {
        "writer": head.writer, "seq": head.seq, "prev_sha256": head.prev,
        # Milliseconds, as stored: the signed bytes must survive a decode and re-encode.
        "recorded_at": event.at.replace(microsecond=event.at.microsecond // 1000 * 1000),
        "subject": event.subject, "action": event.action, "target": event.target,
        "client": event.client, "result": event.result.value, "status": event.status,
        "detail": event.detail, "key_id": key.key_id, "signature": b"",
    }
    datum["signature"] = key.sign(codec.encode(schema, datum))
    return codec.encode(schema, datum)


@dataclass(frozen=True, slots=True)
class StoredAudit:
    """One record read back: where it is and what it says."""

    offset: int
    writer: str
    seq: int
    recorded_at: datetime
    subject: str
    action: str
    target: str
    client: str
    result: Result
    status: int
    detail: str | None
    key_id: str


@dataclass(frozen=True, slots=True)
class Broken:
    """The first record that breaks the trail, and how."""

    offset: int
    how: str
    """altered, deleted, inserted or unreadable."""
    reason: str

    def __str__(self) -> str:
        return f"audit record at offset {self.offset} {self.how}: {self.reason}"


def _open(codec: Codec, value: bytes) -> tuple[dict[str, Any], bytes]:
    """The datum and the bytes its signature covers (re-encoded with its writer schema)."""
    writer = codec.writer_of(value)
    datum = codec.decode(value, writer)
    return datum, codec.encode(writer, {**datum, "signature": b""})


def stored(offset: int, datum: dict[str, Any]) -> StoredAudit:
    """The readable form of a decoded record."""
    return StoredAudit(
        offset=offset, writer=datum["writer"], seq=datum["seq"],
        recorded_at=datum["recorded_at"].astimezone(UTC), subject=datum["subject"],
        action=datum["action"], target=datum["target"], client=datum["client"],
        result=Result(datum["result"]), status=datum["status"], detail=datum["detail"],
        key_id=datum["key_id"])


def verify_chain(codec: Codec, records: Sequence[tuple[int, bytes]],
                 keys: dict[str, Ed25519PublicKey]) -> tuple[int, Broken | None]:
    """Check (offset, value) pairs in offset order; (records checked, first break or None).

    A record is *altered* when its signature fails but it sits where its chain expects
    its next record; *inserted* when it is not signed by a known key anywhere else, or
    repeats a position its chain already has; *deleted* when its chain skips positions,
    or it follows a record that is no longer on the topic. A trail cut at its very end
    looks intact: keep the last digest elsewhere to notice that.
    """
    heads: dict[str, tuple[int, bytes]] = {}
    seen: set[bytes] = {GENESIS}
    count = 0
    for index, (offset, value) in enumerate(records):
        try:
            datum, signed = _open(codec, value)
        except (ContractError, KeyError, TypeError, ValueError) as exc:
            return count, Broken(offset, "unreadable", f"not an audit record ({exc}); "
                                 "inserted or altered")
        writer, seq, prev = datum["writer"], datum["seq"], datum["prev_sha256"]
        head = heads.get(writer)
        expected = head is not None and seq == head[0] + 1 and prev == head[1]
        public = keys.get(datum["key_id"])
        if public is None or not signature_valid(public, datum["signature"], signed):
            fits = expected or (head is None and seq == 0 and prev in seen)
            if fits and not _genuine_follows(codec, records[index + 1:], keys, datum):
                return count, Broken(offset, "altered", f"record {seq} of {writer} does "
                                     "not match its signature")
            known = "" if public is not None else f" (key id {datum['key_id']} is unknown)"
            return count, Broken(offset, "inserted", f"record {seq} of {writer} is not "
                                 f"signed by the gateway's key{known}")
        broken = _position(offset, datum, head, seen)
        if broken is not None:
            return count, broken
        heads[writer] = (seq, digest(value))
        seen.add(digest(value))
        count += 1
    return count, None


def _genuine_follows(codec: Codec, later: Sequence[tuple[int, bytes]],
                     keys: dict[str, Ed25519PublicKey], forged: dict[str, Any]) -> bool:
    """Whether a validly signed record later holds the same place as `forged` (which was
    then inserted before it, not altered)."""
    for _offset, value in later:
        try:
            datum, signed = _open(codec, value)
        except (ContractError, KeyError, TypeError, ValueError):
            continue
        if datum["writer"] != forged["writer"] or datum["seq"] != forged["seq"]:
            continue
        public = keys.get(datum["key_id"])
        return (public is not None and datum["prev_sha256"] == forged["prev_sha256"]
                and signature_valid(public, datum["signature"], signed))
    return False


def _position(offset: int, datum: dict[str, Any], head: tuple[int, bytes] | None,
              seen: set[bytes]) -> Broken | None:
    """Whether a validly signed record stands where its chain says it should."""
    writer, seq, prev = datum["writer"], datum["seq"], datum["prev_sha256"]
    if head is None:
        return _first(offset, writer, seq, prev, seen)
    last_seq, last_digest = head
    how, reason = "", ""
    if seq <= last_seq:
        how, reason = "inserted", f"a second copy of record {seq} of {writer}"
    elif seq > last_seq + 1:
        missing = (f"record {last_seq + 1}" if seq == last_seq + 2
                   else f"records {last_seq + 1} to {seq - 1}")
        how, reason = "deleted", f"{missing} of {writer} missing before it"
    elif prev != last_digest:
        how, reason = "altered", (f"the record before it in {writer}'s chain was replaced "
                                  "(its hash does not match)")
    return Broken(offset, how, reason) if how else None


def _first(offset: int, writer: str, seq: int, prev: bytes, seen: set[bytes]) -> Broken | None:
    if seq != 0:
        return Broken(offset, "deleted", f"records 0 to {seq - 1} of {writer} are missing "
                      "before it")
    if prev not in seen:
        return Broken(offset, "deleted", f"the record that {writer} started after "
                      f"(sha256 {prev.hex()[:16]}...) is missing")
    return None
