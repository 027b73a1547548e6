"""Run a connector plugin the way the runtime does, without the runtime.

The real `RuntimeContext`, `CompactedStore` and `Producer` against a real broker,
with a source topic and an offsets topic unique to the test. The connector runs as an
owned task: `stop` cancels it, awaits it and calls the plugin's `stop`, and a connector
that raised (FAILED) surfaces its error in the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.connect.context import RuntimeContext
from gateway.connect.discovery import SCHEMAS_CONTEXT_KEY
from gateway.connect.plugin import ConnectorConfig, SourceConnector, SourceContext
from gateway.connect.store import CompactedStore
from gateway.contracts import Codec, Envelope
from gateway.headers import H_TRANSACTION
from gateway.kafka import KafkaAdmin, Producer, TopicSpec, read_topic
from gateway.testing.waiting import wait_for
from gateway.topics import Topics

PluginClass = type[SourceConnector[Any]]


@dataclass(frozen=True, slots=True)
class Published:
    """One record on the source topic, decoded with the contracts."""

    envelope: Envelope
    payload: dict[str, Any]
    key: bytes | None
    transaction_header: bytes | None


@dataclass(slots=True)
class Running:
    """A started connector and the task running it."""

    connector: SourceConnector[Any]
    context: RuntimeContext
    task: asyncio.Task[None]

    def failure(self) -> BaseException | None:
        """The error the connector failed with, if its run ended."""
        if not self.task.done() or self.task.cancelled():
            return None
        return self.task.exception()

    def assert_running(self) -> None:
        """Fail the test if the connector stopped on its own."""
        error = self.failure()
        assert not self.task.done(), f"connector ended: {type(error).__name__}: {error}"


class Rig:
    """One test's Kafka side: producer, codec, source topic and offsets store."""

    def __init__(self, bootstrap: str, producer: Producer, admin: KafkaAdmin, codec: Codec,
                 topics: Topics) -> None:
        self.bootstrap = bootstrap
        self.producer = producer
        self.admin = admin
        self.codec = codec
        self.topics = topics
        self.store = CompactedStore(bootstrap, producer, topics.connector_offsets)

    def topic(self, name: str) -> str:
        """The source topic of connector `name`."""
        return self.topics.source(name)

    async def prepare(self, name: str) -> None:
        """Create the connector's topic and the offsets topic, as the runtime would."""
        await self.admin.ensure_topics([
            TopicSpec(self.topic(name), 3), TopicSpec.compacted(self.topics.connector_offsets)
        ])

    async def committed(self, name: str) -> dict[str, Any] | None:
        """The position stored for `name`, read back from the compacted topic."""
        return (await self.store.load()).get(name)

    @contextlib.asynccontextmanager
    async def running(
        self, plugin: PluginClass, config: Mapping[str, Any], *, name: str,
        position: Mapping[str, Any] | bool | None = True, expect_failure: bool = False,
        wrap: Callable[[RuntimeContext], SourceContext] | None = None,
    ) -> AsyncIterator[Running]:
        """Start the plugin; `position=True` resumes from the committed one (the default).

        On exit the connector is stopped; if it had failed on its own and the test did not
        say it expects that, the test fails with the connector's error. `wrap` puts a
        test's own SourceContext (delaying or failing emits) around the real one.
        """
        await self.prepare(name)
        parsed: ConnectorConfig = plugin.config_model.model_validate(
            dict(config), context={SCHEMAS_CONTEXT_KEY: self.codec.registry})
        start_at = await self.committed(name) if position is True else position
        context = RuntimeContext(
            name=name, source_system=plugin.source_system, config=parsed,
            topic=self.topic(name), producer=self.producer, codec=self.codec,
            positions=self.store, position=start_at or None,
        )
        connector = plugin(parsed, wrap(context) if wrap else context)
        await connector.start()
        task = asyncio.create_task(connector.run(), name=f"connector-{name}")
        running = Running(connector, context, task)
        try:
            yield running
        finally:
            failure = await _stop(running)
        if failure is not None and not expect_failure:
            raise AssertionError(f"connector {name} failed: {failure!r}") from failure

    async def published(self, name: str) -> list[Published]:
        """Everything on the connector's topic, decoded (fails on anything undecodable)."""
        found = []
        for rec in await read_topic(self.bootstrap, self.topic(name)):
            assert rec.value is not None, "a connector topic holds no tombstones"
            envelope = Envelope.decode(self.codec, rec.value)
            found.append(Published(envelope, envelope.decode_payload(self.codec), rec.key,
                                   rec.header(H_TRANSACTION)))
        return found

    async def wait_published(self, name: str, count: int, *, timeout_s: float = 20.0,
                             running: Running | None = None) -> list[Published]:
        """Wait until at least `count` records are on the topic (and the connector lives)."""

        async def probe() -> list[Published]:
            if running is not None:
                running.assert_running()
            return await self.published(name)

        return await wait_for(probe, lambda found: len(found) >= count, timeout_s=timeout_s,
                              interval_s=0.2, what=f"{count} records on {self.topic(name)}")


async def _stop(running: Running) -> BaseException | None:
    """Cancel and await the run task, then stop the plugin; return the run's own error."""
    task = running.task
    try:
        if not task.done():
            task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        # The run's own error is what the test wants to see, not a traceback from here.
        except Exception as exc:  # noqa: BLE001 - handed back to the caller, not swallowed
            return exc
        return None
    finally:
        await running.connector.stop()
