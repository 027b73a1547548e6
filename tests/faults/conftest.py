"""The fault suite's own Kafka broker, contracts, and the reckoning lines it prints.

The broker is this package's own (not the session's): scenarios stop and start it, and
that must never disturb another test. Each scenario's reckoning line is written to the
terminal as soon as it is known and again in the session summary, so it shows in
`make test` output without `-s`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from devkit.localkafka import LocalBroker, free_port
from gateway.contracts import Codec, SchemaRegistry
from gateway.settings import Settings
from tests.support.broker import REPO_ROOT

_RECKONINGS = pytest.StashKey[list[str]]()


@pytest.fixture(scope="package")
async def fault_broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalBroker]:
    """A single-node KRaft broker for the fault suite only; stopped at the end."""
    broker = LocalBroker(
        tmp_path_factory.mktemp("fault-kafka"),
        lib_cache=REPO_ROOT / ".lgsp" / "cache" / "kafka",
        port=free_port(),
        controller_port=free_port(),
    )
    await broker.up(die_with_parent=True)
    try:
        yield broker
    finally:
        await broker.down()


@pytest.fixture
async def broker(fault_broker: LocalBroker) -> LocalBroker:
    """The suite's broker, running (a scenario that failed mid-restart may have left it down)."""
    if not fault_broker.status().running:
        await fault_broker.up(die_with_parent=True)
    return fault_broker


@pytest.fixture(autouse=True)
def _quiet_kafka_clients() -> Iterator[None]:
    """Silence this process's Kafka clients' reconnect errors while the broker restarts.

    Broker restarts are the fault being injected; thousands of "unable to connect" lines
    from the suite's own readers would bury a real failure's message.
    """
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


@pytest.fixture(scope="package")
def codec() -> Codec:
    """The project's Avro contracts (for building bad records)."""
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Publish one reckoning line: now on the terminal, and again in the summary."""
    config = request.config

    def publish(line: str) -> None:
        config.stash.setdefault(_RECKONINGS, []).append(line)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            reporter.write_line(line)

    return publish


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The scenario's folder: logs, stub journal, drop folder, gateway state."""
    return tmp_path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Repeat every reckoning line at the end of the run, where `make test` shows it."""
    lines = terminalreporter.config.stash.get(_RECKONINGS, [])
    if lines:
        terminalreporter.section("fault suite reckonings")
        for line in lines:
            terminalreporter.write_line(line)
