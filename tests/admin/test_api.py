"""The admin REST API of a real gateway (real broker, counter plugin) over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from devkit.localkafka import free_port
from gateway.admin import METRICS_CONTENT_TYPE, AdminServer, Body, Operation, RouteSpec
from gateway.app import Gateway, GatewayParts, Service
from gateway.connect import PluginCatalog
from gateway.contracts import Codec
from gateway.errors import ConfigError, KafkaUnavailableError
from gateway.settings import Settings
from gateway.topics import Topics
from tests.connect.support import (
    AGENCY,
    assert_continuous,
    counter_config,
    ingested,
    topic_values,
    wait_ingested,
)
from tests.support.auth import bearer
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


class ToggleService:
    """A Service with its own documented endpoints; its readiness is set by the test."""

    def __init__(self) -> None:
        self.is_ready = True
        self.calls: list[str] = []

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")

    def ready(self) -> bool:
        return self.is_ready

    def routes(self) -> Sequence[RouteSpec]:
        async def echo(request: web.Request) -> web.Response:
            return web.json_response({"echo": request.match_info["word"]})

        async def boom(_request: web.Request) -> web.Response:
            raise RuntimeError("kaboom\nsecond line")

        async def bare(_request: web.Request) -> web.Response:
            """A route without an Operation."""
            return web.Response(text="bare")

        return [
            Operation("GET", "/toggle/echo/{word}", echo, "Echo a word", {
                200: Body("The word.", dict[str, str])}),
            Operation("GET", "/toggle/boom", boom, "Always fails", {}),
            web.get("/toggle/bare", bare),
        ]


class Client:
    """JSON over HTTP against the gateway's admin URL."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                   ) -> tuple[int, Any]:
        async with self.session.request(method, self.url + path, json=json, data=data) as resp:
            body = await resp.read()
            if resp.content_type == "application/json" and body:
                return resp.status, await resp.json()
            return resp.status, body.decode()

    async def state(self, name: str) -> str:
        status, body = await self.call("GET", f"/connectors/{name}/status")
        assert status == 200, body
        return str(body["connector"]["state"])

    async def wait_state(self, name: str, state: str) -> None:
        await wait_for(lambda: self.state(name), lambda s: s == state, timeout_s=20,
                       what=f"{name} {state}")


@pytest.fixture
def toggle() -> ToggleService:
    """The extra service plugged into the gateway under test."""
    return ToggleService()


@pytest.fixture
async def gateway(
    settings: Settings, catalog: PluginCatalog, toggle: ToggleService
) -> AsyncIterator[Gateway]:
    """A started gateway with the test plugins and the toggle service."""
    def services(parts: GatewayParts) -> list[Service]:
        assert parts.runtime is not None
        return [toggle]

    gw = Gateway(settings, plugins=catalog, services=services)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def api(gateway: Gateway) -> AsyncIterator[Client]:
    """An HTTP client of the gateway's admin API, with the first-start admin token."""
    async with aiohttp.ClientSession(headers=bearer(gateway.settings.state_dir)) as session:
        yield Client(session, gateway.url)


async def test_connector_lifecycle_over_http(
    api: Client, settings: Settings, codec: Codec, topics: Topics
) -> None:
    name = f"{topics.prefix}http"
    config = counter_config(**{"batch.size": "2"})
    status, body = await api.call("POST", "/connectors", json={"name": name, "config": config})
    assert status == 201, body
    assert body == {"name": name, "config": config, "tasks": [{"connector": name, "task": 0}],
                    "type": "source"}
    await api.wait_state(name, "RUNNING")
    await wait_ingested(name, 10)

    assert await api.call("GET", "/connectors") == (200, [name])
    status, expanded = await api.call("GET", "/connectors?expand=status&expand=info")
    assert status == 200
    assert expanded[name]["status"]["connector"]["state"] == "RUNNING"
    assert expanded[name]["info"]["config"] == config
    assert await api.call("GET", f"/connectors/{name}") == (200, body)
    assert await api.call("GET", f"/connectors/{name}/config") == (200, config)
    status, state = await api.call("GET", f"/connectors/{name}/status")
    assert state == {
        "name": name,
        "connector": {"state": "RUNNING", "worker_id": f"127.0.0.1:{settings.port}"},
        "tasks": [{"id": 0, "state": "RUNNING", "worker_id": f"127.0.0.1:{settings.port}"}],
        "type": "source",
    }

    assert await api.call("PUT", f"/connectors/{name}/pause") == (202, "")
    assert await api.state(name) == "PAUSED"
    paused_at = ingested(name)
    assert await api.call("PUT", f"/connectors/{name}/resume") == (202, "")
    await api.wait_state(name, "RUNNING")
    await wait_ingested(name, paused_at + 10)

    new_config = counter_config(**{"batch.size": "3"})
    status, updated = await api.call("PUT", f"/connectors/{name}/config", json=new_config)
    assert (status, updated["config"]) == (200, new_config)
    await api.wait_state(name, "RUNNING")

    assert await api.call("POST", f"/connectors/{name}/restart") == (204, "")
    await api.wait_state(name, "RUNNING")
    status, restarted = await api.call(
        "POST", f"/connectors/{name}/restart?onlyFailed=true&includeTasks=true")
    assert (status, restarted["connector"]["state"]) == (202, "RUNNING")
    await wait_ingested(name, ingested(name) + 9)

    # PUT config creates a connector that does not exist yet (Kafka Connect semantics).
    other = f"{topics.prefix}put"
    status, created = await api.call("PUT", f"/connectors/{other}/config", json=config)
    assert (status, created["name"]) == (201, other)
    await api.wait_state(other, "RUNNING")

    assert await api.call("DELETE", f"/connectors/{name}") == (204, "")
    assert await api.call("GET", f"/connectors/{name}") == (404, {
        "error_code": 404, "message": f"connector '{name}' not found"})
    assert await api.call("GET", "/connectors") == (200, [other])
    assert_continuous(await topic_values(settings, codec, name), batch=3, interruptions=3)


async def test_errors_are_one_line_json_with_the_status(api: Client, topics: Topics) -> None:
    status, body = await api.call("POST", "/connectors", json={"name": "bad", "config": {
        "connector.class": "counter", "source.agency.code": "h12", "batch.size": "many",
        "colour": "blue"}})
    assert status == 400
    assert body["error_code"] == 400
    assert body["message"].startswith("invalid config for connector 'bad': ")
    for field in ("source.agency.code: ", "batch.size: Input should be a valid integer",
                  "colour: unknown key for this plugin"):
        assert field in body["message"]

    cases: list[tuple[str, str, Any, bytes | None, int, str]] = [
        ("POST", "/connectors", None, b'{"name": "x", "config": {', 400, "malformed JSON body: "),
        ("POST", "/connectors", None, b"", 400, "malformed JSON body: the request has no body"),
        ("POST", "/connectors", {"config": {}}, None, 400, "invalid request body: name: "),
        ("POST", "/connectors", {"name": "a b", "config": {}}, None, 400,
         "invalid request body: name: String should match pattern"),
        ("PUT", "/connectors/x/config", [1], None, 400, "invalid request body: (root): "),
        ("POST", "/connectors", {"name": "x", "config": counter_config(
            **{"connector.class": "nope"})}, None, 404, "unknown connector plugin 'nope'"),
        ("PUT", "/connector-plugins/nope/config/validate", {}, None, 404,
         "unknown connector plugin 'nope'"),
        ("GET", "/connectors?expand=everything", None, None, 400, "invalid query: expand: "),
        ("POST", "/connectors/x/restart?onlyFailed=maybe", None, None, 400,
         "invalid query: onlyFailed: must be true or false"),
        ("GET", "/nowhere", None, None, 404, "no such path: /nowhere"),
        ("PATCH", "/connectors", None, None, 405, "method PATCH is not allowed on /connectors"),
    ]
    for method, path in (("GET", "/connectors/ghost"), ("GET", "/connectors/ghost/status"),
                         ("GET", "/connectors/ghost/config"), ("PUT", "/connectors/ghost/pause"),
                         ("PUT", "/connectors/ghost/resume"),
                         ("POST", "/connectors/ghost/restart"), ("DELETE", "/connectors/ghost")):
        cases.append((method, path, None, None, 404, "connector 'ghost' not found"))
    for method, path, json, data, want_status, want_message in cases:
        status, body = await api.call(method, path, json=json, data=data)
        assert status == want_status, (method, path, body)
        assert body["error_code"] == want_status, (method, path, body)
        assert body["message"].startswith(want_message), (method, path, body)
        assert "\n" not in body["message"]

    name = f"{topics.prefix}dup"
    request = {"name": name, "config": counter_config()}
    assert (await api.call("POST", "/connectors", json=request))[0] == 201
    assert await api.call("POST", "/connectors", json=request) == (409, {
        "error_code": 409, "message": f"connector '{name}' already exists"})

    # An unexpected exception: 500, one line, logged with its traceback.
    assert await api.call("GET", "/toggle/boom") == (500, {
        "error_code": 500, "message": "internal error: RuntimeError: kaboom second line"})


async def test_plugins_and_validate(api: Client) -> None:
    status, plugins = await api.call("GET", "/connector-plugins")
    assert status == 200
    assert plugins[0] == {
        "class": "counter", "type": "source", "version": "unknown",
        "class_path": "tests.connect.plugins.CounterSource", "source_system": "counter",
        "description": "Numbered test records.",
    }
    assert [p["class"] for p in plugins] == ["counter", "returning"]

    status, result = await api.call("PUT", "/connector-plugins/counter/config/validate",
                                    json={"source.agency.code": AGENCY, "batch.size": "0"})
    assert status == 200
    assert set(result) == {"name", "error_count", "groups", "configs"}
    assert (result["name"], result["error_count"], result["groups"]) == (
        "counter", 1, ["Common", "counter"])
    entry = next(c for c in result["configs"] if c["definition"]["name"] == "batch.size")
    assert set(entry["definition"]) == {
        "name", "type", "required", "default_value", "importance", "documentation", "group",
        "order", "width", "display_name", "dependents"}
    assert entry["definition"]["type"] == "INT"
    assert entry["value"] == {"name": "batch.size", "value": "0", "recommended_values": [],
                              "errors": ["Input should be greater than or equal to 1"],
                              "visible": True}


async def test_a_failing_connector_shows_failed_with_its_error(
    api: Client, topics: Topics
) -> None:
    name = f"{topics.prefix}fails"
    status, _ = await api.call("POST", "/connectors", json={
        "name": name, "config": counter_config(**{"fail.on.start": "true"})})
    assert status == 201
    await api.wait_state(name, "FAILED")
    _, body = await api.call("GET", f"/connectors/{name}/status")
    assert body["connector"]["trace"] == (
        "RuntimeError: counter refused to start: fail.on.start is set")
    assert body["tasks"][0]["state"] == "FAILED"
    assert body["tasks"][0]["trace"].startswith(body["connector"]["trace"] + "\nTraceback")


async def test_health_readiness_metrics_and_extra_routes(
    api: Client, toggle: ToggleService, topics: Topics
) -> None:
    assert await api.call("GET", "/healthz") == (200, {"status": "ok"})
    assert await api.call("GET", "/readyz") == (200, {"status": "ready"})
    toggle.is_ready = False
    assert await api.call("GET", "/readyz") == (503, {
        "error_code": 503, "message": "not ready: ToggleService is not ready"})
    toggle.is_ready = True
    assert await api.call("GET", "/toggle/echo/xin-chao") == (200, {"echo": "xin-chao"})
    assert await api.call("GET", "/toggle/bare") == (200, "bare")

    name = f"{topics.prefix}metered"
    await api.call("POST", "/connectors", json={"name": name, "config": counter_config()})
    await api.wait_state(name, "RUNNING")
    await wait_ingested(name, 5)
    async with api.session.get(api.url + "/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == METRICS_CONTENT_TYPE
        text = await resp.text()
    assert f'lgsp_connector_state{{connector="{name}",state="RUNNING"}} 1.0' in text
    assert f'lgsp_connector_state{{connector="{name}",state="FAILED"}} 0.0' in text
    assert "lgsp_kafka_ready 1.0" in text
    assert f'lgsp_ingested_total{{connector="{name}"}}' in text


async def test_openapi_describes_every_path(api: Client) -> None:
    status, doc = await api.call("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"] == "3.1.0"
    served = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    assert served == {
        ("GET", "/connectors"), ("POST", "/connectors"),
        ("GET", "/connectors/{name}"), ("DELETE", "/connectors/{name}"),
        ("GET", "/connectors/{name}/status"),
        ("GET", "/connectors/{name}/config"), ("PUT", "/connectors/{name}/config"),
        ("PUT", "/connectors/{name}/pause"), ("PUT", "/connectors/{name}/resume"),
        ("POST", "/connectors/{name}/restart"),
        ("GET", "/connector-plugins"), ("PUT", "/connector-plugins/{plugin}/config/validate"),
        ("GET", "/metrics"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/openapi.json"),
        ("GET", "/toggle/echo/{word}"), ("GET", "/toggle/boom"), ("GET", "/toggle/bare"),
    }
    create = doc["paths"]["/connectors"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateConnectorRequest"}
    assert set(create["responses"]) == {"201", "400", "401", "403", "404", "409", "500"}
    assert create["security"] == [{"bearer": []}]
    assert create["x-required-role"] == "integrator"
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # Not in the role table: closed to all but admin until someone decides otherwise.
    assert doc["paths"]["/toggle/bare"]["get"]["x-required-role"] == "admin"
    assert doc["paths"]["/connectors/{name}"]["get"]["parameters"] == [
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    schemas = doc["components"]["schemas"]
    assert {"CreateConnectorRequest", "ConnectorInfoResponse", "ConnectorStatusResponse",
            "ConfigInfosResponse", "ErrorResponse", "PluginResponse"} <= set(schemas)
    assert schemas["ConnectorStateModel"]["properties"]["state"] == {
        "$ref": "#/components/schemas/ConnectorState"}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        if isinstance(node, list):
            return [r for v in node for r in refs(v)]
        return []

    for ref in refs(doc):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_configs_survive_a_gateway_restart(
    settings: Settings, catalog: PluginCatalog, topics: Topics
) -> None:
    name = f"{topics.prefix}durable"
    toggle = ToggleService()
    first = Gateway(settings, plugins=catalog, services=lambda _parts: [toggle])
    await first.start()
    try:
        await first.runtime.create(name, counter_config())
        await wait_ingested(name, 5)
    finally:
        await first.stop()
    assert toggle.calls == ["start", "stop"]
    second = Gateway(settings, plugins=catalog)
    await second.start()
    try:
        async with aiohttp.ClientSession(headers=bearer(settings.state_dir)) as session:
            api = Client(session, second.url)
            assert await api.call("GET", "/connectors") == (200, [name])
            await api.wait_state(name, "RUNNING")
    finally:
        await second.stop()


async def test_unreachable_kafka_fails_start_with_one_line(topics: Topics) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    gateway = Gateway(Settings(bootstrap_servers=bootstrap, topic_prefix=topics.prefix,
                               port=free_port()))
    with pytest.raises(KafkaUnavailableError) as failed:
        await gateway.start()
    assert str(failed.value).startswith(f"cannot connect to Kafka at {bootstrap}: ")
    assert "\n" not in str(failed.value)


async def test_a_busy_port_is_a_one_line_error() -> None:
    blocker = web.AppRunner(web.Application())
    await blocker.setup()
    port = free_port()
    site = web.TCPSite(blocker, "127.0.0.1", port)
    await site.start()
    try:
        server = AdminServer(web.Application(), "127.0.0.1", port)
        with pytest.raises(ConfigError, match=f"admin API cannot listen on 127.0.0.1:{port}: "):
            await server.start()
        assert not server.ready()
    finally:
        await blocker.cleanup()
