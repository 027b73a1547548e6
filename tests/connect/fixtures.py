"""Fixtures shared by tests/connect and tests/admin (imported by both conftests)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from importlib.util import find_spec
from pathlib import Path

import pytest

from devkit.localkafka import free_port
from gateway.connect import ConnectorRuntime, PluginCatalog
from gateway.contracts import Codec, SchemaRegistry
from gateway.kafka import KafkaAdmin, Producer
from gateway.settings import Settings
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.connect.plugins import CounterSource, ReturningSource

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "lgsp-example-connector"

RuntimeFactory = Callable[[], contextlib.AbstractAsyncContextManager[ConnectorRuntime]]


@pytest.fixture(scope="session")
def codec() -> Codec:
    """The project's Avro contracts."""
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


@pytest.fixture
def settings(kafka: BrokerHandle, topics: Topics, tmp_path: Path) -> Settings:
    """Settings for one test: its own topic prefix, admin port and state dir (so its own
    first-start admin token), the session broker."""
    return Settings(topic_prefix=topics.prefix, bootstrap_servers=kafka.bootstrap,
                    port=free_port(), state_dir=tmp_path / "state")


@pytest.fixture
def catalog() -> PluginCatalog:
    """The test plugins, injected instead of discovered."""
    return PluginCatalog.of(CounterSource, ReturningSource)


@pytest.fixture
async def runtime_factory(
    settings: Settings, codec: Codec, catalog: PluginCatalog
) -> AsyncIterator[RuntimeFactory]:
    """`async with runtime_factory() as rt:` a started runtime, stopped on exit.

    Several runtimes in a row on the same settings stand for a gateway restart.
    """
    producer = Producer(settings.bootstrap_servers)
    admin = KafkaAdmin(settings.bootstrap_servers)
    await producer.start()
    await admin.start()

    @contextlib.asynccontextmanager
    async def make() -> AsyncIterator[ConnectorRuntime]:
        runtime = ConnectorRuntime(settings, producer=producer, admin=admin, codec=codec,
                                   plugins=catalog, stop_timeout_s=5)
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()
            # A connector cancelled mid-emit leaves records in the shared producer's
            # buffer; flush so a test reading the topic next sees what really happened.
            await producer.flush()

    try:
        yield make
    finally:
        await admin.stop()
        await producer.stop()


@pytest.fixture(scope="session")
def example_plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/plugins/lgsp-example-connector installed with pip into a private folder.

    Put the folder on PYTHONPATH to make the plugin visible. Offline when hatchling (its
    build backend) is importable here; otherwise pip fetches hatchling into an isolated
    build environment.
    """
    target = tmp_path_factory.mktemp("example-plugin")
    offline = find_spec("hatchling") is not None
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--disable-pip-version-check", "--target", str(target)]
    if offline:
        command += ["--no-build-isolation", "--no-index"]
    result = subprocess.run([*command, str(EXAMPLE_PLUGIN)], capture_output=True, text=True,
                            timeout=180, check=False)
    assert result.returncode == 0, f"pip install of the example plugin failed:\n{result.stderr}"
    return target
