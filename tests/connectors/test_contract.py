"""The contract every connector plugin passes, against the real broker.

Parametrized over every plugin registered under the `lgsp.connectors` entry points (the
three built-in ones must be among them), each driven through its harness:

(a) N source records become exactly N envelopes, decodable with the contracts and
    stamped with the plugin's source system, the connector name, the message type and
    the configured agency code;
(b) stop, then start from the committed position: no duplicates, no loss;
(c) start from an older position after a "crash": the records come again with the SAME
    transaction ids;
(d) the config model refuses bad values naming the key.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.connect.plugin import ENTRY_POINT_GROUP, ConnectorConfig, SourceConnector
from gateway.settings import problems_from
from tests.connectors.harnesses import AGENCY, HARNESSES, Harness
from tests.connectors.rig import Published, Rig

pytestmark = pytest.mark.integration

BUILT_IN = ("ioffice", "one-stop", "reporting")
# Poll intervals in the harness configs are 100 ms: a quiet second means nothing more comes.
QUIET_S = 1.0


def _discovered() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


PLUGINS = sorted(set(_discovered()) | set(BUILT_IN))


def _plugin(name: str) -> type[SourceConnector[Any]]:
    found = _discovered().get(name)
    if found is None:
        pytest.fail(f"plugin {name!r} is not registered under {ENTRY_POINT_GROUP}; "
                    "reinstall the project (make setup) so its entry points are current",
                    pytrace=False)
    cls = found.load()
    assert isinstance(cls, type) and issubclass(cls, SourceConnector)
    return cls


@pytest.fixture(params=PLUGINS)
def plugin_name(request: pytest.FixtureRequest) -> str:
    """One installed plugin per parametrization."""
    name: str = request.param
    return name


@pytest.fixture
async def harness(plugin_name: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The plugin's harness with its simulated source running."""
    if plugin_name not in HARNESSES:
        pytest.fail(f"plugin {plugin_name!r} has no contract harness: add one to "
                    "tests/connectors/harnesses.py", pytrace=False)
    made = HARNESSES[plugin_name]()
    await made.open(tmp_path)
    try:
        yield made
    finally:
        await made.close()


def test_built_in_plugins_are_registered() -> None:
    found = _discovered()
    missing = [name for name in BUILT_IN if name not in found]
    assert not missing, (f"not registered under {ENTRY_POINT_GROUP}: {missing}; reinstall "
                         "the project (make setup) so its entry points are current")


def test_plugin_declares_the_contract(plugin_name: str) -> None:
    plugin = _plugin(plugin_name)
    assert plugin.plugin_name == plugin_name
    assert plugin.source_system
    assert plugin.description
    assert issubclass(plugin.config_model, ConnectorConfig)
    for field_name, info in plugin.config_model.model_fields.items():
        if field_name in ConnectorConfig.model_fields:
            continue
        assert info.alias and "." in info.alias, f"{field_name} needs a dotted key alias"
        assert info.description, f"{info.alias} needs a description"


async def test_each_source_record_becomes_exactly_one_envelope(
    plugin_name: str, harness: Harness, rig: Rig
) -> None:
    plugin = _plugin(plugin_name)
    name = f"{plugin_name}-a"
    async with rig.running(plugin, harness.config(), name=name) as running:
        await harness.feed(running, 12)
        found = await rig.wait_published(name, 12, running=running)
        await asyncio.sleep(QUIET_S)
        found = await rig.published(name)
        running.assert_running()
    assert len(found) == 12
    assert len({p.envelope.transaction_id for p in found}) == 12
    latest = rig.codec.registry.latest(harness.message_type).version
    for item in found:
        env = item.envelope
        assert env.source_system == plugin.source_system
        assert env.connector == name
        assert env.message_type == harness.message_type
        assert env.schema_version == latest
        assert env.source_agency_code == AGENCY
        assert item.key == env.business_key.encode()
        assert item.transaction_header == env.transaction_id.encode()
        assert item.payload, "payload decodes to a record"


async def test_restart_from_committed_position_neither_repeats_nor_loses(
    plugin_name: str, harness: Harness, rig: Rig
) -> None:
    plugin = _plugin(plugin_name)
    name = f"{plugin_name}-b"
    async with rig.running(plugin, harness.config(), name=name) as running:
        await harness.feed(running, 8)
        await rig.wait_published(name, 8, running=running)
    async with rig.running(plugin, harness.config(), name=name) as running:
        await harness.feed(running, 5)
        await rig.wait_published(name, 13, running=running)
        await asyncio.sleep(QUIET_S)
        found = await rig.published(name)
    _assert_once_each(found, 13)


async def test_records_read_again_after_a_crash_keep_their_transaction_ids(
    plugin_name: str, harness: Harness, rig: Rig
) -> None:
    plugin = _plugin(plugin_name)
    name = f"{plugin_name}-c"
    async with rig.running(plugin, harness.config(), name=name) as running:
        await harness.feed(running, 9)
        first = await rig.wait_published(name, 9, running=running)
    # As if the position had never been committed: start from nothing.
    async with rig.running(plugin, harness.config(), name=name, position=None) as running:
        await harness.redeliver(running)
        await rig.wait_published(name, 18, running=running)
        await asyncio.sleep(QUIET_S)
        found = await rig.published(name)
    counts = Counter(p.envelope.transaction_id for p in found)
    assert set(counts) == {p.envelope.transaction_id for p in first}
    assert set(counts.values()) == {2}, "each record re-read exactly once, same id"


def test_config_model_refuses_bad_values_naming_the_key(
    plugin_name: str, harness: Harness
) -> None:
    plugin = _plugin(plugin_name)
    good = harness.config()
    plugin.config_model.model_validate(good)
    bad: dict[str, Any] = {"source.agency.code": "h12 tinh Ca Mau", **harness.bad_values}
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
