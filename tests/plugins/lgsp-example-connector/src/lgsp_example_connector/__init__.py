"""An example LGSP connector plugin: one heartbeat every `interval.ms`.

Its message type `example.heartbeat` is the package's own schema (schemas/, declared
under the `lgsp.schemas` entry-point group).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import Field

from gateway.connect import ConnectorConfig, SourceConnector, SourceRecord

__all__ = ["ExampleConfig", "ExampleConnector"]


class ExampleConfig(ConnectorConfig):
    """The common keys plus the heartbeat interval."""

    interval_ms: int = Field(default=100, ge=10, alias="interval.ms",
                             description="Milliseconds between two heartbeats.")


class ExampleConnector(SourceConnector[ExampleConfig]):
    """Publishes a numbered heartbeat report; the number is the source position."""

    plugin_name: ClassVar[str] = "example"
    source_system: ClassVar[str] = "example"
    config_model: ClassVar[type[ExampleConfig]] = ExampleConfig
    description: ClassVar[str] = "Heartbeat reports at a fixed interval (example plugin)."
    # Where heartbeats go unless the gateway's settings route them elsewhere.
    default_routes: ClassVar[Mapping[str, str]] = {"example.heartbeat": "QG.HTBC.NOPBAOCAO"}

    async def run(self) -> None:
        """Emit, commit, sleep; until cancelled."""
        position = self.context.position
        beat = int(position["beat"]) if position else 0
        while True:
            now = datetime.now(UTC)
            await self.context.emit([SourceRecord(
                source_id=f"beat-{beat}",
                message_type="example.heartbeat",
                payload={
                    "beat": beat,
                    "unit_code": self.config.source_agency_code,
                    "beaten_at": now,
                },
                business_key="heartbeat",
                occurred_at=now,
            )])
            beat += 1
            await self.context.commit_position({"beat": beat})
            await asyncio.sleep(self.config.interval_ms / 1000)
