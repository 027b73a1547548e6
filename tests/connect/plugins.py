"""Test plugins: real `SourceConnector`s that publish real records to Kafka.

`CounterSource` publishes report submissions numbered 0, 1, 2, ... and commits the next
number as its source position, so tests can read the topic back and see exactly where a
connector stopped and where it resumed. Config keys let a test make it fail on purpose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import Field

from gateway.connect import ConnectorConfig, SourceConnector, SourceRecord
from gateway.contracts import Codec, Envelope
from gateway.kafka import Record

MESSAGE_TYPE = "reporting.report_submission"


class CounterConfig(ConnectorConfig):
    """Counter settings, with constraints so tests can provoke per-field errors."""

    interval_ms: int = Field(default=20, ge=1, le=60_000, alias="interval.ms",
                             description="Pause between two batches.")
    batch_size: int = Field(default=5, ge=1, le=1000, alias="batch.size",
                            description="Records per emit.")
    fail_on_start: bool = Field(default=False, alias="fail.on.start",
                                description="Raise from start() (tests FAILED).")
    fail_at: int | None = Field(default=None, ge=0, alias="fail.at",
                                description="Raise from run() once this number is reached.")


class CounterSource(SourceConnector[CounterConfig]):
    """Publishes numbered records; position {"next": n}."""

    plugin_name: ClassVar[str] = "counter"
    source_system: ClassVar[str] = "counter"
    config_model: ClassVar[type[CounterConfig]] = CounterConfig
    description: ClassVar[str] = "Numbered test records."

    events: ClassVar[list[tuple[str, str]]] = []
    """(connector name, "start" | "stop") for every lifecycle call, across instances."""

    _next = 0

    async def start(self) -> None:
        """Pick up the committed number (or 0); refuse if told to."""
        CounterSource.events.append((self.context.name, "start"))
        if self.config.fail_on_start:
            raise RuntimeError("counter refused to start:\nfail.on.start is set")
        position = self.context.position
        self._next = int(position["next"]) if position else 0

    async def run(self) -> None:
        """Emit a batch, commit, sleep; until cancelled (or fail.at)."""
        while True:
            if self.config.fail_at is not None and self._next >= self.config.fail_at:
                raise RuntimeError(f"counter reached {self._next}, failing as configured")
            first = self._next
            await self.context.emit([self._record(n) for n in
                                     range(first, first + self.config.batch_size)])
            self._next = first + self.config.batch_size
            await self.context.commit_position({"next": self._next})
            await asyncio.sleep(self.config.interval_ms / 1000)

    async def stop(self) -> None:
        """Record the call: tests check stop() follows every start()."""
        CounterSource.events.append((self.context.name, "stop"))

    def _record(self, n: int) -> SourceRecord:
        now = datetime.now(UTC)
        return SourceRecord(
            source_id=str(n),
            message_type=MESSAGE_TYPE,
            payload={
                "report_code": "COUNTER",
                "period": {"kind": "MONTH", "year": 2026, "number": 1},
                "reporting_unit_code": self.config.source_agency_code,
                "submitted_at": now,
                "rows": [{"code": "n", "value": float(n), "unit": "count"}],
                "source_file": f"counter-{n}.xlsx",
            },
            business_key=f"unit-{n % 3}",
            occurred_at=now,
        )


class ReturningSource(SourceConnector[ConnectorConfig]):
    """Breaks the contract: run() returns instead of working until cancelled."""

    plugin_name: ClassVar[str] = "returning"
    source_system: ClassVar[str] = "returning"
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    async def run(self) -> None:
        """Return at once."""


def counter_values(codec: Codec, records: Iterable[Record]) -> list[int]:
    """The counter number of each record, in topic order per partition."""
    values = []
    for rec in records:
        assert rec.value is not None
        payload = Envelope.decode(codec, rec.value).decode_payload(codec)
        values.append(int(payload["rows"][0]["value"]))
    return values
