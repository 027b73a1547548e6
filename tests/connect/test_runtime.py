"""ConnectorRuntime against the real broker, with a counter plugin publishing real records."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from gateway.connect import ConnectorState
from gateway.connect.status import TaskId
from gateway.contracts import Codec
from gateway.errors import (
    ConfigError,
    ConnectorExistsError,
    ConnectorNotFoundError,
    UnknownPluginError,
)
from gateway.kafka import Producer, read_topic
from gateway.settings import Settings
from gateway.topics import Topics
from tests.connect.fixtures import RuntimeFactory
from tests.connect.plugins import CounterSource
from tests.connect.support import (
    assert_continuous,
    counter_config,
    ingested,
    state_gauge,
    topic_values,
    wait_ingested,
    wait_state,
)

pytestmark = pytest.mark.integration

RUNNING, PAUSED, FAILED = ConnectorState.RUNNING, ConnectorState.PAUSED, ConnectorState.FAILED


async def test_create_starts_the_connector_and_it_publishes(
    runtime_factory: RuntimeFactory, settings: Settings, codec: Codec, topics: Topics
) -> None:
    name = f"{topics.prefix}count"
    async with runtime_factory() as rt:
        info = await rt.create(name, counter_config(**{"batch.size": "3"}))
        assert info.name == name
        assert info.config == counter_config(**{"batch.size": "3"})
        assert info.tasks == (TaskId(name, 0),)
        assert info.type == "source"
        await wait_state(rt, name, RUNNING)
        await wait_ingested(name, 30)

        assert rt.list() == [name]
        assert rt.get(name) == info
        assert rt.config(name) == counter_config(**{"batch.size": "3"})
        status = rt.status(name)
        assert status.name == name
        assert status.connector.state is RUNNING
        assert status.connector.worker_id == f"127.0.0.1:{settings.port}"
        assert [(t.id, t.state, t.trace) for t in status.tasks] == [(0, RUNNING, None)]
        assert state_gauge(name, RUNNING) == 1
        assert state_gauge(name, PAUSED) == 0
        assert [p.name for p in rt.plugins()] == ["counter", "returning"]

    values = await topic_values(settings, codec, name)
    assert len(values) >= 30
    assert_continuous(values, batch=3)
    partitions = {r.partition for r in await read_topic(settings.bootstrap_servers,
                                                         topics.source(name))}
    assert partitions == {0, 1, 2}, "the connector topic is created with 3 partitions"


async def test_pause_stops_the_flow_and_resume_continues_from_the_position(
    runtime_factory: RuntimeFactory, settings: Settings, codec: Codec, topics: Topics
) -> None:
    name = f"{topics.prefix}pausable"
    async with runtime_factory() as rt:
        await rt.create(name, counter_config())
        await wait_ingested(name, 20)
        await rt.pause(name)
        assert rt.status(name).connector.state is PAUSED
        assert CounterSource.events[-1] == (name, "stop"), "pause stops the plugin"
        paused_at = ingested(name)
        count = len(await topic_values(settings, codec, name))
        # Nothing may happen while paused; there is no event to wait for, so give a
        # running counter (one batch per 20 ms) ample time to show up if it were running.
        await asyncio.sleep(0.5)
        assert ingested(name) == paused_at
        assert len(await topic_values(settings, codec, name)) == count

        await rt.resume(name)
        await wait_state(rt, name, RUNNING)
        await wait_ingested(name, paused_at + 20)
        await rt.resume(name)  # resuming a running connector changes nothing
        assert rt.status(name).connector.state is RUNNING
    assert_continuous(await topic_values(settings, codec, name), batch=5)


async def test_restart_and_config_update_start_a_new_instance(
    runtime_factory: RuntimeFactory, settings: Settings, codec: Codec, topics: Topics
) -> None:
    name = f"{topics.prefix}restartable"
    async with runtime_factory() as rt:
        await rt.create(name, counter_config(**{"batch.size": "1"}))
        await wait_ingested(name, 5)
        starts = CounterSource.events.count((name, "start"))
        assert await rt.restart(name)
        await wait_state(rt, name, RUNNING)
        assert CounterSource.events.count((name, "start")) == starts + 1
        assert not await rt.restart(name, only_failed=True), "only FAILED ones restart"
        await wait_ingested(name, ingested(name) + 5)

        updated = await rt.update_config(name, counter_config(**{"batch.size": "7"}))
        assert updated.config["batch.size"] == "7"
        assert rt.config(name)["batch.size"] == "7"
        await wait_state(rt, name, RUNNING)
        before = ingested(name)
        await wait_ingested(name, before + 14)
        assert (ingested(name) - before) % 7 == 0, "the new instance emits batches of 7"

        with pytest.raises(ConfigError, match=r"connector\.class: cannot change the plugin"):
            await rt.update_config(name, {**counter_config(), "connector.class": "returning"})
        with pytest.raises(ConfigError, match=r"batch\.size"):
            await rt.update_config(name, counter_config(**{"batch.size": "0"}))
        assert rt.config(name)["batch.size"] == "7", "a refused update changes nothing"
        with pytest.raises(ConnectorNotFoundError):
            await rt.update_config("absent", counter_config())

        await rt.pause(name)
        assert not await rt.restart(name), "a paused connector stays paused"
        assert rt.status(name).connector.state is PAUSED
    assert_continuous(await topic_values(settings, codec, name), batch=7, interruptions=3)


async def test_delete_stops_and_forgets_the_connector_but_keeps_its_position(
    runtime_factory: RuntimeFactory, settings: Settings, codec: Codec, topics: Topics
) -> None:
    name = f"{topics.prefix}deletable"
    async with runtime_factory() as rt:
        await rt.create(name, counter_config())
        await wait_ingested(name, 20)
        await rt.delete(name)
        assert CounterSource.events[-1] == (name, "stop")
        assert rt.list() == []
        assert state_gauge(name, RUNNING) is None, "its state gauge is removed"
        for call in (rt.pause, rt.resume, rt.restart, rt.delete):
            with pytest.raises(ConnectorNotFoundError, match=f"connector '{name}' not found"):
                await call(name)
        with pytest.raises(ConnectorNotFoundError):
            rt.status(name)
        count = len(await topic_values(settings, codec, name))

        await rt.create(name, counter_config())
        await wait_ingested(name, ingested(name) + 10)
    values = await topic_values(settings, codec, name)
    assert len(values) > count
    assert_continuous(values, batch=5)

    async with runtime_factory() as rt:
        assert rt.list() == [name], "the re-created connector is stored"


async def test_invalid_requests_are_refused_naming_the_problem(
    runtime_factory: RuntimeFactory, topics: Topics
) -> None:
    async with runtime_factory() as rt:
        with pytest.raises(ConfigError) as bad:
            await rt.create("bad", {
                "connector.class": "counter", "source.agency.code": "not-an-agency",
                "batch.size": "0", "interval.ms": "soon", "colour": "blue",
            })
        fields = {p.field for p in bad.value.problems}
        assert fields == {"source.agency.code", "batch.size", "interval.ms", "colour"}
        message = str(bad.value)
        assert "\n" not in message
        assert message.startswith("invalid config for connector 'bad': ")
        assert "colour: unknown key for this plugin" in message
        assert "batch.size: Input should be greater than or equal to 1" in message

        with pytest.raises(ConfigError) as missing:
            await rt.create("bad", {"connector.class": "counter"})
        assert [p.field for p in missing.value.problems] == ["source.agency.code"]
        assert "source.agency.code: required" in str(missing.value)
        with pytest.raises(ConfigError, match=r"connector\.class: required"):
            await rt.create("bad", {"source.agency.code": "000.00.00.H12"})
        with pytest.raises(UnknownPluginError,
                           match="unknown connector plugin 'nope'; installed: counter, returning"):
            await rt.create("bad", counter_config(**{"connector.class": "nope"}))
        with pytest.raises(ConfigError, match="name: 'other' differs"):
            await rt.create("bad", {**counter_config(), "name": "other"})
        for name in ("", "has space", "slash/y", "x" * 101):
            with pytest.raises(ConfigError, match="invalid connector name"):
                await rt.create(name, counter_config())
        assert rt.list() == []

        name = f"{topics.prefix}dup"
        await rt.create(name, counter_config())
        with pytest.raises(ConnectorExistsError, match="already exists"):
            await rt.create(name, counter_config())
        # The fully qualified class name works too, as in Kafka Connect.
        other = await rt.create(f"{name}2", counter_config(**{
            "connector.class": "tests.connect.plugins.CounterSource"}))
        assert other.config["connector.class"] == "tests.connect.plugins.CounterSource"
        await wait_state(rt, f"{name}2", RUNNING)


async def test_validate_reports_every_key(runtime_factory: RuntimeFactory) -> None:
    async with runtime_factory() as rt:
        result = rt.validate("counter", {"source.agency.code": "x", "batch.size": "0",
                                         "colour": "blue"})
        assert result.name == "counter"
        assert result.groups == ("Common", "counter")
        by_key = {c.definition.name: c for c in result.configs}
        assert {"connector.class", "source.agency.code", "batch.size", "interval.ms",
                "colour"} <= set(by_key)
        assert result.error_count == 3
        assert by_key["connector.class"].value.value == "counter"
        assert by_key["connector.class"].value.errors == ()
        assert by_key["batch.size"].definition.type == "INT"
        assert by_key["batch.size"].definition.default_value == "5"
        assert by_key["batch.size"].definition.group == "counter"
        assert by_key["fail.on.start"].definition.type == "BOOLEAN"
        assert by_key["source.agency.code"].definition.required
        assert by_key["source.agency.code"].definition.group == "Common"
        assert by_key["colour"].value.errors == ("unknown key for this plugin",)
        assert rt.validate("counter", counter_config()).error_count == 0
        mismatch = rt.validate("counter", counter_config(**{"connector.class": "returning"}))
        assert mismatch.error_count == 1
        with pytest.raises(UnknownPluginError):
            rt.validate("nope", {})


async def test_a_raising_plugin_is_failed_with_its_error_until_restarted(
    runtime_factory: RuntimeFactory, settings: Settings, codec: Codec, topics: Topics
) -> None:
    refuses, breaks, returns = (f"{topics.prefix}{n}" for n in ("refuses", "breaks", "returns"))
    async with runtime_factory() as rt:
        await rt.create(refuses, counter_config(**{"fail.on.start": "true"}))
        await rt.create(breaks, counter_config(**{"fail.at": "10"}))
        await rt.create(returns, {"connector.class": "returning",
                                  "source.agency.code": "000.00.00.H12"})
        for name in (refuses, breaks, returns):
            await wait_state(rt, name, FAILED)
            assert state_gauge(name, FAILED) == 1
            assert state_gauge(name, RUNNING) == 0

        status = rt.status(refuses)
        assert status.connector.trace == (
            "RuntimeError: counter refused to start: fail.on.start is set"
        )
        task_trace = status.tasks[0].trace
        assert task_trace is not None
        assert task_trace.splitlines()[0] == status.connector.trace
        assert "Traceback (most recent call last)" in task_trace
        assert CounterSource.events.count((refuses, "stop")) == 1, "stop() follows start()"

        assert rt.status(breaks).connector.trace == (
            "RuntimeError: counter reached 10, failing as configured"
        )
        assert sorted(await topic_values(settings, codec, breaks)) == list(range(10))
        assert rt.status(returns).connector.trace == (
            f"connector '{returns}': run() returned; a connector must run until stopped"
        )

        assert await rt.restart(breaks, only_failed=True)
        await wait_state(rt, breaks, FAILED)  # same config, same failure
        await rt.update_config(breaks, counter_config())
        await wait_state(rt, breaks, RUNNING)
        await wait_ingested(breaks, 20)
        assert rt.status(breaks).connector.trace is None


async def test_configs_survive_a_restart_and_connectors_resume_from_their_positions(
    runtime_factory: RuntimeFactory, settings: Settings, codec: Codec, topics: Topics
) -> None:
    running, paused = f"{topics.prefix}running", f"{topics.prefix}paused"
    async with runtime_factory() as rt:
        await rt.create(running, counter_config())
        await rt.create(paused, counter_config(**{"batch.size": "2"}))
        await wait_ingested(running, 20)
        await wait_ingested(paused, 10)
        await rt.pause(paused)
    first_run = len(await topic_values(settings, codec, running))
    paused_values = sorted(await topic_values(settings, codec, paused))

    offsets = {r.key: orjson.loads(r.value) for r in
               await read_topic(settings.bootstrap_servers, topics.connector_offsets)
               if r.key is not None and r.value is not None}
    assert offsets[running.encode()]["next"] >= 20
    # At-least-once: a pause may cancel between emit and commit, leaving one batch
    # published but not committed (it is re-published, with the same transaction ids).
    assert max(paused_values) + 1 - 2 <= offsets[paused.encode()]["next"] <= max(paused_values) + 1

    async with runtime_factory() as rt:
        assert rt.list() == sorted([running, paused])
        assert rt.config(paused) == counter_config(**{"batch.size": "2"})
        assert rt.status(paused).connector.state is PAUSED
        await wait_state(rt, running, RUNNING)
        await wait_ingested(running, ingested(running) + 20)
        assert sorted(await topic_values(settings, codec, paused)) == paused_values

        await rt.resume(paused)
        await wait_state(rt, paused, RUNNING)
        await wait_ingested(paused, ingested(paused) + 10)

    running_values = await topic_values(settings, codec, running)
    assert len(running_values) > first_run
    assert_continuous(running_values, batch=5, interruptions=1)
    assert_continuous(await topic_values(settings, codec, paused), batch=2, interruptions=1)


async def test_stop_leaves_nothing_running(
    runtime_factory: RuntimeFactory, topics: Topics
) -> None:
    names = [f"{topics.prefix}n{i}" for i in range(3)]
    async with runtime_factory() as rt:
        for name in names:
            await rt.create(name, counter_config())
        for name in names:
            await wait_state(rt, name, RUNNING)
    leftovers = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("connector:")]
    assert leftovers == []
    for name in names:
        assert CounterSource.events.count((name, "start")) == 1
        assert CounterSource.events.count((name, "stop")) == 1
    stopped = [ingested(n) for n in names]
    await asyncio.sleep(0.2)  # nothing is left to publish; a leaked task would show here
    assert [ingested(n) for n in names] == stopped


async def test_unreadable_stored_records_are_skipped_and_their_connector_fails(
    runtime_factory: RuntimeFactory, settings: Settings, topics: Topics,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = f"{topics.prefix}good"
    async with runtime_factory() as rt:
        await rt.create(good, counter_config())
        await wait_state(rt, good, RUNNING)
    producer = Producer(settings.bootstrap_servers)
    await producer.start()
    try:
        for topic, key, value in [
            (topics.connector_configs, b"planted", b"\xff not JSON"),
            (topics.connector_configs, b"listy", b"[1, 2]"),
            (topics.connector_configs, b"\xff\xfe", b'{"name": "x"}'),
            (topics.connector_offsets, good.encode(), b"{not json"),
            (topics.connector_offsets, b"other", b"42"),
        ]:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()
    async with runtime_factory() as rt:
        # Start-up went on: the good connector runs again, the planted ones are FAILED.
        await wait_state(rt, good, RUNNING)
        assert sorted(rt.list()) == sorted([good, "listy", "planted"])
        for name, why in (("planted", "not JSON"), ("listy", "a JSON list, not an object")):
            status = rt.status(name)
            assert status.connector.state is FAILED
            trace = status.connector.trace or ""
            assert f"topic {topics.connector_configs} partition " in trace, trace
            assert " offset " in trace and why in trace, trace
        # A new config replaces the bad record; deleting writes a tombstone.
        await rt.update_config("listy", counter_config())
        await wait_state(rt, "listy", RUNNING)
        await rt.delete("planted")
    async with runtime_factory() as rt:
        assert "planted" not in rt.list()
        await wait_state(rt, "listy", RUNNING)
    logged = capsys.readouterr()
    warnings = [ln for ln in (logged.out + logged.err).splitlines()
                if "unreadable store record skipped" in ln]
    assert any(topics.connector_offsets in ln for ln in warnings), warnings
