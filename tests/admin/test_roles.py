"""Roles: production runs connectors once and scales router-only gateways."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from devkit.localkafka import free_port
from gateway.app import Gateway
from gateway.errors import ConfigError
from gateway.settings import Settings, load_settings
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.auth import bearer

pytestmark = pytest.mark.integration


async def test_a_router_only_gateway_refuses_connector_requests_clearly(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    settings = Settings(bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
                        port=free_port(), roles=["router"], state_dir=tmp_path)
    gateway = Gateway(settings)
    await gateway.start()
    try:
        async with aiohttp.ClientSession(headers=bearer(tmp_path)) as session:
            async with session.get(f"{gateway.url}/connectors") as resp:
                body = await resp.json()
                assert resp.status == 409
                assert body["error_code"] == 409
                assert "does not run connectors" in body["message"]
            async with session.get(f"{gateway.url}/readyz") as resp:
                assert resp.status == 200  # the router is polling
        with pytest.raises(RuntimeError):
            _ = gateway.runtime
    finally:
        await gateway.stop()


def test_roles_come_from_the_environment_as_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_ROLES", "router")
    assert load_settings().roles == ["router"]
    monkeypatch.setenv("LGSP_ROLES", "router,bogus")
    with pytest.raises(ConfigError, match="roles"):
        load_settings()
