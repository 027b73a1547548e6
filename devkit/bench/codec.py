"""Codec rates: single-object Avro encode and decode of a realistic envelope, on one core.

Runs in a worker thread (it is pure CPU work and would otherwise hold the event loop),
while nothing else in the process is busy, so it measures one core's worth.

Two levels are reported:
- the envelope alone (its ~1 KB payload already encoded): what the issue's target
  of 50,000/s each way is stated for;
- the whole transaction (payload and envelope): a connector encodes both per record,
  the router decodes both.
"""

from __future__ import annotations

__all__ = ["CodecRates", "measure_codec"]

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from devkit.bench.payloads import DOSSIER_EVENT, DossierEvents, encoded_envelope
from gateway.contracts import Codec, Envelope

# Distinct records cycled through, so caches see a realistic variety.
_VARIETY = 256


@dataclass(frozen=True, slots=True)
class CodecRates:
    """Records per second on one core, and the sizes measured."""

    payload_bytes: int
    envelope_bytes: int
    envelope_encode_per_s: float
    envelope_decode_per_s: float
    transaction_encode_per_s: float
    transaction_decode_per_s: float


def measure_codec(codec: Codec, records: int) -> CodecRates:
    """Time `records` encodes and decodes at each level (blocking: call in a thread)."""
    events = DossierEvents("CODEC")
    schema = codec.registry.latest(DOSSIER_EVENT)
    now = datetime.now(UTC)
    datums = [events.datum(i, now) for i in range(_VARIETY)]
    payloads = [codec.encode(schema, d) for d in datums]
    encoded = [encoded_envelope(codec, schema, p, events.business_key(i), connector="bench")
               for i, p in enumerate(payloads)]
    envelopes = [Envelope.decode(codec, e) for e in encoded]

    def rate(step: Callable[[int], object]) -> float:
        started = time.perf_counter()
        for i in range(records):
            step(i % _VARIETY)
        return records / (time.perf_counter() - started)

    def transaction_encode(i: int) -> object:
        env = envelopes[i]
        env.payload = codec.encode(schema, datums[i])
        return env.encode(codec)

    def transaction_decode(i: int) -> object:
        return Envelope.decode(codec, encoded[i]).decode_payload(codec)

    return CodecRates(
        payload_bytes=round(sum(map(len, payloads)) / _VARIETY),
        envelope_bytes=round(sum(map(len, encoded)) / _VARIETY),
        envelope_encode_per_s=rate(lambda i: envelopes[i].encode(codec)),
        envelope_decode_per_s=rate(lambda i: Envelope.decode(codec, encoded[i])),
        transaction_encode_per_s=rate(transaction_encode),
        transaction_decode_per_s=rate(transaction_decode),
    )
