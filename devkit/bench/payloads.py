"""Realistic benchmark data: one-stop dossier events of about 1 KB, as JSON and as Avro.

The same generator feeds every scenario, so the webhook, the backlog and the codec
measurements all move the same kind of record: a dossier status event with an officer's
note (Vietnamese, with diacritics, so UTF-8 is exercised), which puts the Avro payload at
about 1 KB, the size the issue's codec target is stated for.
"""

from __future__ import annotations

__all__ = [
    "DOSSIER_EVENT",
    "DossierEvents",
    "WebhookBodies",
    "encoded_envelope",
    "event_json",
]

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from devkit.simulators._synthetic import ICT, Synthetic
from gateway.contracts import Codec, Envelope, SchemaVersion

DOSSIER_EVENT = "onestop.dossier_event"
SOURCE_SYSTEM = "one-stop"
PROVINCE = "000.00.00.H12"

# Officers' notes are the bulk of a real event; three sentences of them, repeated a
# varying number of times, give payloads between about 0.8 and 1.3 KB.
_NOTE_SENTENCES = (
    "Đề nghị công dân bổ sung bản sao có chứng thực giấy chứng nhận quyền sử dụng đất. ",
    "Hồ sơ đã được chuyển phòng chuyên môn thẩm định theo quy trình nội bộ. ",
    "Kết quả giải quyết được trả tại Bộ phận Tiếp nhận và Trả kết quả cấp xã. ",
)
_STATUSES = ("RECEIVED", "PROCESSING", "SUPPLEMENT_REQUESTED", "PROCESSING", "COMPLETED",
             "RESULT_ISSUED")


# Dossiers open at the same time in a province: event `i` belongs to dossier
# `i % _OPEN_DOSSIERS`, so a dossier's next event comes thousands of events later, as
# in real traffic where its status changes days apart (consecutive events of one key
# would be serialised by the router's per-key order, measuring that rule, not the load).
_OPEN_DOSSIERS = 10_000


class DossierEvents:
    """A seeded stream of dossier events; event `i` belongs to dossier `i % 10,000`.

    Each dossier's events come in status order, so business keys repeat the way they
    do in a real backlog. `run_tag` keeps event ids (hence transaction ids) unique
    across benchmark runs against the same stub.
    """

    def __init__(self, run_tag: str, seed: int = 20_251_123) -> None:
        self._syn = Synthetic(seed)
        self._tag = run_tag
        self._base = datetime(2025, 7, 1, 8, 0, tzinfo=ICT)

    def datum(self, i: int, occurred_at: datetime | None = None) -> dict[str, Any]:
        """Event `i` as the Avro datum of `onestop.dossier_event` (newest version)."""
        syn, rng = self._syn, self._syn.rng
        dossier = i % _OPEN_DOSSIERS
        step = i // _OPEN_DOSSIERS
        status = _STATUSES[min(step, len(_STATUSES) - 1)]
        received = self._base + timedelta(minutes=dossier % 100_000)
        agency = syn.agency_code()
        return {
            "event_id": self.event_id(i),
            "dossier_code": self.business_key(i),
            "procedure_code": f"1.{rng.randint(1, 12000):06d}.000.00.00.H12",
            "receiving_agency_code": agency,
            "status": status,
            "previous_status": None if step == 0 else _STATUSES[min(step, len(_STATUSES)) - 1],
            "applicant": {"full_name": syn.person_name(), "identity_number": syn.identity_number(),
                          "phone": syn.phone()},
            "received_at": received,
            "due_at": received + timedelta(days=15),
            "completed_at": occurred_at if status in ("COMPLETED", "RESULT_ISSUED") else None,
            "fee_paid_vnd": rng.choice((0, 15_000, 50_000, 100_000)),
            "result_reference": f"{dossier % 9999 + 1}/GP-UBND" if status == "RESULT_ISSUED"
            else None,
            "submission_channel": rng.choice(("ONLINE", "COUNTER", "POSTAL")),
            "note": "".join(rng.choice(_NOTE_SENTENCES) for _ in range(rng.randint(6, 10))),
        }

    def event_id(self, i: int) -> str:
        """The one-stop system's id of event `i` (the transaction id derives from it)."""
        return f"EV-{self._tag}-{i:09d}"

    def business_key(self, i: int) -> str:
        """The dossier code of event `i` (the Kafka key, so per-dossier order is kept)."""
        return f"H12-{self._tag}-{i % _OPEN_DOSSIERS:08d}"


def event_json(datum: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
    """The webhook body of one event: the datum with ISO 8601 times and `occurred_at`."""
    body = {key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in datum.items()}
    body["occurred_at"] = occurred_at.isoformat()
    return body


class WebhookBodies:
    """Webhook request bodies at a few microseconds each, so the load generator's own CPU
    time (on the same small machine as the gateway) stays out of the measurement.

    A pool of events is serialised once; each body splices its event's unique id,
    dossier code and `occurred_at` into one of them.
    """

    def __init__(self, events: DossierEvents, pool: int = 1_024) -> None:
        self._events = events
        now = datetime.now(UTC)
        unique = ("event_id", "dossier_code", "occurred_at")
        self._rest = [
            orjson.dumps({k: v for k, v in event_json(events.datum(i, now), now).items()
                          if k not in unique})[1:-1]
            for i in range(pool)
        ]

    def event(self, i: int, occurred_at: datetime) -> bytes:
        """Event `i` as JSON, occurring at `occurred_at`."""
        return b'{"event_id":"%s","dossier_code":"%s",%s,"occurred_at":"%s"}' % (
            self._events.event_id(i).encode(), self._events.business_key(i).encode(),
            self._rest[i % len(self._rest)], occurred_at.isoformat().encode())

    def body(self, first: int, size: int, occurred_at: datetime) -> bytes:
        """One request: event `first` alone, or `{"events": [...]}` of `size` events."""
        if size == 1:
            return self.event(first, occurred_at)
        return b'{"events":[%s]}' % b",".join(
            self.event(i, occurred_at) for i in range(first, first + size))


def encoded_envelope(codec: Codec, schema: SchemaVersion, payload: bytes, business_key: str, *,
                     connector: str) -> bytes:
    """One envelope as the one-stop connector publishes it, with a fresh transaction id."""
    now = datetime.now(UTC)
    tx_id = str(uuid.uuid4())
    return Envelope(
        transaction_id=tx_id, correlation_id=business_key, source_system=SOURCE_SYSTEM,
        connector=connector, source_agency_code=PROVINCE, target_service=None,
        message_type=DOSSIER_EVENT, schema_version=schema.version, business_key=business_key,
        occurred_at=now, ingested_at=now, payload=payload, headers={},
    ).encode(codec)
