"""Fixtures of the contract kit (registered by `gateway.testing.plugin`).

Session-wide: `lgsp_bootstrap` (the broker), `lgsp_producer`, `lgsp_admin`, `lgsp_codec`
(the gateway's and every installed plugin's schemas). Per test: `lgsp_topics` (names
unique to the test) and `lgsp_rig` (a connector run as the runtime runs it). A project
that already has a broker fixture overrides `lgsp_bootstrap` in its conftest.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import AsyncIterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from gateway.connect.plugin import ENTRY_POINT_GROUP
from gateway.contracts import Codec, load_schemas
from gateway.errors import GatewayError
from gateway.kafka import KafkaAdmin, Producer
from gateway.settings import Settings
from gateway.testing.broker import given_bootstrap, session_broker
from gateway.testing.harness import Harness, load_harness
from gateway.testing.rig import Rig
from gateway.topics import Topics


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def lgsp_bootstrap(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """A real Kafka broker for the session: the one given, or the local one started here."""
    given = given_bootstrap(request.config.getoption("--lgsp-bootstrap-servers"))
    try:
        async with session_broker(tmp_path_factory.mktemp("kafka"), given) as bootstrap:
            yield bootstrap
    except (GatewayError, OSError) as exc:
        pytest.fail(f"no Kafka broker for the LGSP contract kit: {exc}", pytrace=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def lgsp_producer(lgsp_bootstrap: str) -> AsyncIterator[Producer]:
    """The producer every connector of the session shares, as in the gateway."""
    producer = Producer(lgsp_bootstrap)
    await producer.start()
    yield producer
    await producer.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def lgsp_admin(lgsp_bootstrap: str) -> AsyncIterator[KafkaAdmin]:
    """An admin client on the session's broker."""
    admin = KafkaAdmin(lgsp_bootstrap)
    await admin.start()
    yield admin
    await admin.stop()


@pytest.fixture(scope="session")
def lgsp_codec() -> Codec:
    """The Avro contracts `lgsp run` would load: built-in and every installed plugin's."""
    return Codec(load_schemas(Settings().schemas_dir))


def unique_prefix() -> str:
    """A topic prefix no other test uses, of letters only.

    Hex digits would now and then give a run of nine or more digits, which the logs and
    error messages mask as a citizen identity number, so names would not match.
    """
    return "t" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12)) + "."


@pytest.fixture
def lgsp_topics() -> Topics:
    """Topic names unique to this test, so tests never read each other's records."""
    return Topics(prefix=unique_prefix())


@pytest.fixture
def lgsp_rig(lgsp_bootstrap: str, lgsp_producer: Producer, lgsp_admin: KafkaAdmin,
             lgsp_codec: Codec, lgsp_topics: Topics) -> Rig:
    """Real context, store and producer, with topics unique to this test."""
    return Rig(lgsp_bootstrap, lgsp_producer, lgsp_admin, lgsp_codec, lgsp_topics)


# --- the contract suite's parametrization ------------------------------------------------

def installed_plugins() -> list[str]:
    """Names of every connector plugin registered under `lgsp.connectors`."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One run of each contract test per plugin: the class's `plugins`, or every one."""
    if "lgsp_plugin_name" not in metafunc.fixturenames:
        return
    chosen = getattr(metafunc.cls, "plugins", None)
    names = list(chosen) if chosen is not None else installed_plugins()
    metafunc.parametrize("lgsp_plugin_name", names, ids=names)


@pytest_asyncio.fixture(loop_scope="session")
async def lgsp_harness(
    request: pytest.FixtureRequest, lgsp_plugin_name: str, tmp_path: Path
) -> AsyncIterator[Any]:
    """The plugin's harness with its fake source system open.

    A plugin the test class names must have a harness (the test fails); one merely
    installed beside the gateway without a harness is skipped, so it never breaks
    another project's suite.
    """
    try:
        harness_class = load_harness(lgsp_plugin_name)
    except GatewayError as exc:
        pytest.fail(str(exc), pytrace=False)
    if harness_class is None:
        reason = (f"plugin {lgsp_plugin_name!r} registers no contract harness (entry-point "
                  "group lgsp.harnesses)")
        if getattr(request.cls, "plugins", None) is not None:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    harness: Harness = harness_class()
    await harness.open(tmp_path)
    try:
        yield harness
    finally:
        await harness.close()
