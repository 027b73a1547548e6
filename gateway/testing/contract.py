"""The contract every connector plugin passes, against a real broker.

Use it by subclassing in a test module of your plugin:

    from gateway.testing.contract import ConnectorContract

    class TestRadioContract(ConnectorContract):
        plugins = ("radio",)   # None (the default): every installed plugin

Each test runs once per plugin, driven through the plugin's registered harness
(`gateway.testing.harness`):

(a) the plugin class declares the contract: name, source system, description, a
    config model whose own keys are dotted and documented;
(b) N source records become exactly N envelopes, decodable with the contracts and
    stamped with the plugin's source system, the connector name, the message type (at its
    latest schema version) and the configured agency code, keyed by business key;
(c) stop, then start from the committed position: no duplicates, no loss;
(d) start from an older position after a "crash": the records come again with the SAME
    transaction ids (so the national side sees each once);
(e) the config model refuses bad values naming the key, and unknown keys.
"""

from __future__ import annotations

__all__ = ["ConnectorContract"]

import asyncio
from collections import Counter
from importlib.metadata import entry_points
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from gateway.connect.plugin import ENTRY_POINT_GROUP, ConnectorConfig, SourceConnector
from gateway.settings import problems_from
from gateway.testing.harness import Harness
from gateway.testing.rig import Published, Rig

_asyncio = pytest.mark.asyncio(loop_scope="session")


def load_plugin(name: str) -> type[SourceConnector[Any]]:
    """The connector class registered under `name` (the test fails if there is none)."""
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}.get(name)
    if found is None:
        pytest.fail(f"plugin {name!r} is not registered under {ENTRY_POINT_GROUP}; install "
                    "its package (pip install -e .) so its entry points are current",
                    pytrace=False)
    cls = found.load()
    assert isinstance(cls, type) and issubclass(cls, SourceConnector)
    return cls


class ConnectorContract:
    """The contract tests; subclass as `Test...` to collect them (see the module docs)."""

    plugins: ClassVar[tuple[str, ...] | None] = None
    """Plugins to check (each must have a harness); None: every installed plugin."""
    quiet_s: ClassVar[float] = 1.0
    """How long nothing more must arrive (the harness configs poll every 100 ms)."""
    timeout_s: ClassVar[float] = 20.0
    """How long records may take to arrive on the topic."""

    def test_plugin_declares_the_contract(self, lgsp_plugin_name: str) -> None:
        plugin = load_plugin(lgsp_plugin_name)
        assert plugin.plugin_name == lgsp_plugin_name
        assert plugin.source_system
        assert plugin.description
        assert issubclass(plugin.config_model, ConnectorConfig)
        for field_name, info in plugin.config_model.model_fields.items():
            if field_name in ConnectorConfig.model_fields:
                continue
            assert info.alias and "." in info.alias, f"{field_name} needs a dotted key alias"
            assert info.description, f"{info.alias} needs a description"

    @_asyncio
    async def test_each_source_record_becomes_exactly_one_envelope(
        self, lgsp_plugin_name: str, lgsp_harness: Harness, lgsp_rig: Rig
    ) -> None:
        plugin = load_plugin(lgsp_plugin_name)
        name = f"{lgsp_plugin_name}-a"
        config = lgsp_harness.config()
        async with lgsp_rig.running(plugin, config, name=name) as running:
            await lgsp_harness.feed(running, 12)
            await lgsp_rig.wait_published(name, 12, running=running, timeout_s=self.timeout_s)
            await asyncio.sleep(self.quiet_s)
            found = await lgsp_rig.published(name)
            running.assert_running()
        assert len(found) == 12
        assert len({p.envelope.transaction_id for p in found}) == 12
        latest = lgsp_rig.codec.registry.latest(lgsp_harness.message_type).version
        for item in found:
            env = item.envelope
            assert env.source_system == plugin.source_system
            assert env.connector == name
            assert env.message_type == lgsp_harness.message_type
            assert env.schema_version == latest
            assert env.source_agency_code == config["source.agency.code"]
            assert item.key == env.business_key.encode()
            assert item.transaction_header == env.transaction_id.encode()
            assert item.payload, "payload decodes to a record"

    @_asyncio
    async def test_restart_from_committed_position_neither_repeats_nor_loses(
        self, lgsp_plugin_name: str, lgsp_harness: Harness, lgsp_rig: Rig
    ) -> None:
        plugin = load_plugin(lgsp_plugin_name)
        name = f"{lgsp_plugin_name}-b"
        async with lgsp_rig.running(plugin, lgsp_harness.config(), name=name) as running:
            await lgsp_harness.feed(running, 8)
            await lgsp_rig.wait_published(name, 8, running=running, timeout_s=self.timeout_s)
        async with lgsp_rig.running(plugin, lgsp_harness.config(), name=name) as running:
            await lgsp_harness.feed(running, 5)
            await lgsp_rig.wait_published(name, 13, running=running, timeout_s=self.timeout_s)
            await asyncio.sleep(self.quiet_s)
            found = await lgsp_rig.published(name)
        _assert_once_each(found, 13)

    @_asyncio
    async def test_records_read_again_after_a_crash_keep_their_transaction_ids(
        self, lgsp_plugin_name: str, lgsp_harness: Harness, lgsp_rig: Rig
    ) -> None:
        plugin = load_plugin(lgsp_plugin_name)
        name = f"{lgsp_plugin_name}-c"
        async with lgsp_rig.running(plugin, lgsp_harness.config(), name=name) as running:
            await lgsp_harness.feed(running, 9)
            first = await lgsp_rig.wait_published(name, 9, running=running,
                                                  timeout_s=self.timeout_s)
        # As if the position had never been committed: start from nothing.
        async with lgsp_rig.running(plugin, lgsp_harness.config(), name=name,
                                    position=None) as running:
            await lgsp_harness.redeliver(running)
            await lgsp_rig.wait_published(name, 18, running=running, timeout_s=self.timeout_s)
            await asyncio.sleep(self.quiet_s)
            found = await lgsp_rig.published(name)
        counts = Counter(p.envelope.transaction_id for p in found)
        assert set(counts) == {p.envelope.transaction_id for p in first}
        assert set(counts.values()) == {2}, "each record re-read exactly once, same id"

    @_asyncio
    async def test_config_model_refuses_bad_values_naming_the_key(
        self, lgsp_plugin_name: str, lgsp_harness: Harness
    ) -> None:
        plugin = load_plugin(lgsp_plugin_name)
        good = lgsp_harness.config()
        plugin.config_model.model_validate(good)
        bad: dict[str, Any] = {"source.agency.code": "h12 tinh Ca Mau",
                               **lgsp_harness.bad_values}
        for key, value in bad.items():
            with pytest.raises(ValidationError) as caught:
                plugin.config_model.model_validate({**good, key: value})
            fields = [p.field for p in problems_from(caught.value)]
            assert fields == [key], f"{key}={value!r} refused as {fields}"
        with pytest.raises(ValidationError) as unknown:
            plugin.config_model.model_validate({**good, "no.such.key": 1})
        assert [p.field for p in problems_from(unknown.value)] == ["no.such.key"]


def _assert_once_each(found: list[Published], count: int) -> None:
    ids = Counter(p.envelope.transaction_id for p in found)
    assert len(found) == count, f"{len(found)} records, expected {count}"
    assert max(ids.values()) == 1, "a transaction id appears twice"
