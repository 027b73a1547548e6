"""Kafka records as the gateway writes them, built from the router's own encoders, so
the index tests read exactly what the topics would hold (no broker needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gateway.contracts import Codec
from gateway.errors import TransientForwardError
from gateway.kafka import Record
from gateway.replay.deadletters import resubmission_headers
from gateway.router.outcomes import (
    LEDGER_SCHEMA,
    STAGE_FORWARD,
    Attempt,
    Failure,
    Outcome,
    dead_letter_headers,
    encode_ledger,
)
from gateway.topics import Topics
from tests.support.pipeline import dossier_envelope

SERVICE = "QG.DVCQG.DONGBOHOSO"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@dataclass
class Topicset:
    """Appends records to in-memory partitions with real offsets."""

    topics: Topics
    codec: Codec
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
            headers: list[tuple[str, bytes]], *, at: datetime) -> Record:
        offset = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = offset + 1
        rec = Record(topic, partition, offset, key, value, tuple(headers),
                     int(at.timestamp() * 1000))
        self.records.append(rec)
        return rec

    def transaction(self, n: int, *, outcome: str, at: datetime, key: str | None = None,
                    replayed: bool = False, duration_ms: float = 12.0) -> str:
        """One transaction's records: ingested; delivered, dead-lettered, or dead-lettered
        then replayed (replayed + outcome DELIVERED: delivered by the replay)."""
        env = dossier_envelope(self.codec, n, key=key)
        part = n % 3
        src = self.add(self.topics.source("one-stop"), part, env.business_key.encode(),
                       env.encode(self.codec), [("lgsp.transaction_id",
                                                 env.transaction_id.encode())], at=at)
        first_delivered = outcome == "DELIVERED" and not replayed
        self._outcome(src, env.transaction_id, env.business_key, at + timedelta(seconds=1),
                      delivered=first_delivered, duration_ms=duration_ms, ingested=at)
        if replayed:
            dead = [r for r in self.records if r.topic == self.topics.dead_letter
                    and r.header("lgsp.transaction_id") == env.transaction_id.encode()][-1]
            sub = self.add(self.topics.replay, part, dead.key, dead.value,
                           resubmission_headers(dead, f"rp-test-{n}"),
                           at=at + timedelta(seconds=5))
            if outcome == "DELIVERED":
                self._outcome(sub, env.transaction_id, env.business_key,
                              at + timedelta(seconds=6), delivered=True,
                              duration_ms=duration_ms, ingested=at,
                              replay_id=f"rp-test-{n}")
        return env.transaction_id

    def _outcome(self, rec: Record, tx: str, key: str, at: datetime, *, delivered: bool,
                 duration_ms: float, ingested: datetime,
                 replay_id: str | None = None) -> None:
        attempts = [Attempt(at - timedelta(milliseconds=100), duration_ms,
                            "delivered" if delivered else "transient_error",
                            200 if delivered else 503, None if delivered else "down")]
        failure = None if delivered else Failure(
            STAGE_FORWARD, TransientForwardError("national service unavailable: HTTP 503"),
            True, 503)
        out = Outcome(record=rec, connector="one-stop", transaction_id=tx, service=SERVICE,
                      delivered=delivered, attempts=attempts,
                      receipt_id=f"rc-{tx[:8]}" if delivered else None, failure=failure,
                      correlation_id=key, source_system="one-stop",
                      message_type="onestop.dossier_event", occurred_at=ingested,
                      ingested_at=ingested,
                      replay_id=replay_id, completed_at=at)
        schema = self.codec.registry.latest(LEDGER_SCHEMA)
        self.add(self.topics.ledger, rec.partition, tx.encode(),
                 encode_ledger(self.codec, schema, out), [], at=at)
        if not delivered:
            self.add(self.topics.dead_letter, rec.partition, rec.key, rec.value,
                     dead_letter_headers(out), at=at)
