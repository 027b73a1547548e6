"""The runtime's view of secrets: traces scrubbed, references resolved at start, sealed at rest."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import orjson
import pytest
from pydantic import SecretStr

from gateway.connect import ConnectorConfig, ConnectorStatus, PluginCatalog, SourceConnector
from gateway.kafka import KafkaAdmin, Producer, TopicSpec, read_topic
from gateway.settings import Settings
from gateway.topics import Topics
from tests.connect.fixtures import RuntimeFactory
from tests.connect.support import AGENCY
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


class LeakyConfig(ConnectorConfig):
    """A plugin config with a password and a plain key."""

    db_password: SecretStr = SecretStr("")
    db_host: str = "127.0.0.1"


class LeakySource(SourceConnector[LeakyConfig]):
    """Fails at start with its own password in the message, as a careless driver might."""

    plugin_name: ClassVar[str] = "leaky"
    source_system: ClassVar[str] = "leaky"
    config_model: ClassVar[type[LeakyConfig]] = LeakyConfig

    async def start(self) -> None:
        password = self.config.db_password.get_secret_value()
        raise RuntimeError(f"login to {self.config.db_host} with password {password} refused")

    async def run(self) -> None:  # pragma: no cover - start always fails
        raise AssertionError


@pytest.fixture
def catalog() -> PluginCatalog:
    """Only the leaky plugin."""
    return PluginCatalog.of(LeakySource)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test's settings with a key file of its own."""
    return settings.model_copy(update={"state_dir": tmp_path})


async def test_a_failing_plugin_never_shows_its_secret(
    runtime_factory: RuntimeFactory, topics: Topics, settings: Settings,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret_file = tmp_path / "db.properties"
    secret_file.write_text("password=from-a-mounted-file-0042\n")
    monkeypatch.setenv("LEAKY_PW", "from-the-environment-0042")
    literal = "a-literal-password-0042"
    async with runtime_factory() as rt:
        names = {f"{topics.prefix}lit": literal,
                 f"{topics.prefix}env": "${env:LEAKY_PW}",
                 f"{topics.prefix}file": f"${{file:{secret_file}:password}}"}
        for name, value in names.items():
            info = await rt.create(name, {"connector.class": "leaky",
                                          "source.agency.code": AGENCY,
                                          "db_password": value})
            assert info.config["db_password"] == "[hidden]"
            assert rt.config(name)["db_password"] == "[hidden]"
        for name in names:
            async def status(name: str = name) -> ConnectorStatus:
                return rt.status(name)

            found = await wait_for(status, lambda s: s.connector.state == "FAILED",
                                   timeout_s=20, what=f"{name} failed")
            trace = found.tasks[0].trace or ""
            assert "with password [hidden] refused" in trace, trace
            for plain in (literal, "from-the-environment-0042", "from-a-mounted-file-0042"):
                assert plain not in trace
    stored = b"".join(r.value or b"" for r in
                      await read_topic(settings.bootstrap_servers, topics.connector_configs))
    assert literal.encode() not in stored and b"${sealed:v1:" in stored
    assert b"${env:LEAKY_PW}" in stored and str(secret_file).encode() in stored
    assert (tmp_path / "secrets.key").stat().st_mode & 0o777 == 0o600


async def test_a_secret_stored_in_clear_by_an_older_gateway_is_sealed_at_start(
    runtime_factory: RuntimeFactory, topics: Topics, settings: Settings,
    kafka_admin: KafkaAdmin,
) -> None:
    await kafka_admin.ensure_topics([TopicSpec.compacted(topics.connector_configs)])
    name = f"{topics.prefix}old"
    legacy = {"name": name, "target_state": "running",
              "config": {"connector.class": "leaky", "source.agency.code": AGENCY,
                         "db_password": "stored-in-clear-0042"}}
    producer = Producer(settings.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topics.connector_configs, orjson.dumps(legacy),
                                     key=name.encode())
    finally:
        await producer.stop()
    async with runtime_factory() as rt:
        assert rt.config(name)["db_password"] == "[hidden]"
    records = await read_topic(settings.bootstrap_servers, topics.connector_configs)
    latest = orjson.loads(records[-1].value or b"{}")
    assert latest["config"]["db_password"].startswith("${sealed:v1:")
