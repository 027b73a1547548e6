"""A secret set on a connector is found nowhere: API answers, CLI output, logs, topics.

Real processes: `lgsp run` and `lgsp connectors ...`, the session broker. The one-stop
secret is a literal (sealed at rest), the iOffice token a `${env:...}` reference (stored as
the reference, read at start).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from connectors.one_stop.signature import sign
from devkit.localkafka import free_port
from gateway.kafka import KafkaAdmin, TopicReader
from gateway.secrets import generate_key
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.auth import bearer
from tests.support.processes import ServerProcess, loopback_env, run_lgsp
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

EVENT = {
    "event_id": "EV-secret-1", "dossier_code": "000.00.12.H12-250801-0001",
    "procedure_code": "1.011442.000.00.00.H12", "receiving_agency_code": "000.00.12.H12",
    "status": "RECEIVED", "previous_status": None,
    "applicant": {"full_name": "Nguyễn Văn An", "identity_number": "096085001234",
                  "phone": "0912345678"},
    "received_at": "2025-08-01T08:00:00.000+07:00", "submission_channel": "ONLINE",
}


async def _every_record(bootstrap: str, prefix: str) -> list[bytes]:
    """Keys, values and header values of every record of every topic under the prefix."""
    admin = KafkaAdmin(bootstrap)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
    finally:
        await admin.stop()
    reader = TopicReader(bootstrap)
    await reader.start()
    found: list[bytes] = []
    try:
        async for rec in reader.read(names):
            found += [rec.key or b"", rec.value or b""]
            found += [value for _name, value in rec.headers]
    finally:
        await reader.stop()
    assert names, "the gateway created no topics"
    return found


async def test_a_secret_is_found_nowhere(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    secret = f"one-stop-{uuid.uuid4().hex}"
    token = f"ioffice-{uuid.uuid4().hex}"
    port, hook_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = loopback_env(
        bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix, port=str(port),
        state_dir=str(tmp_path / "state"), log_format="json", log_level="DEBUG",
        roles="connectors", secrets_key=generate_key(),
    )
    env["IOFFICE_TOKEN"] = token
    gateway = ServerProcess(["run"], env=env, log_path=tmp_path / "gateway.log",
                            ready_prefix="gateway ready")
    seen: list[str] = []  # every API answer and CLI output

    async def cli(*args: str) -> Any:
        done = await run_lgsp("connectors", *args, "--url", url, env=env)
        seen.extend([done.out, done.err])
        assert done.code == 0, done.err
        return orjson.loads(done.out) if done.out.strip().startswith(("{", "[")) else done.out

    async def call(session: aiohttp.ClientSession, method: str, path: str,
                   body: Any = None) -> tuple[int, Any]:
        async with session.request(method, url + path, json=body) as resp:
            text = await resp.text()
            seen.append(text)
            return resp.status, orjson.loads(text) if text else None

    one_stop = f"{topics.prefix}os"
    ioffice = f"{topics.prefix}io"
    await gateway.start()
    try:
        created = await cli("create", "--name", one_stop, "--set", "connector.class=one-stop",
                            "--set", "source.agency.code=000.00.00.H12",
                            "--set", f"listen.port={hook_port}",
                            "--set", f"webhook.secret={secret}")
        assert created["config"]["webhook.secret"] == "[hidden]"
        await cli("create", "--name", ioffice, "--set", "connector.class=ioffice",
                  "--set", "source.agency.code=000.00.00.H12",
                  "--set", f"api.url=http://127.0.0.1:{free_port()}",
                  "--set", "api.token=${env:IOFFICE_TOKEN}", "--set", "poll.interval.ms=200")
        async with aiohttp.ClientSession(headers=bearer(tmp_path / "state")) as session:
            for path in (f"/connectors/{one_stop}", f"/connectors/{one_stop}/config",
                         f"/connectors/{ioffice}", f"/connectors/{ioffice}/config",
                         "/connectors?expand=info&expand=status",
                         f"/connectors/{one_stop}/status"):
                status, body = await call(session, "GET", path)
                assert status == 200, body
            status, config = await call(session, "GET", f"/connectors/{one_stop}/config")
            assert config["webhook.secret"] == "[hidden]"
            status, body = await call(session, "PUT", "/connector-plugins/one-stop/config/"
                                      "validate", {**config, "webhook.secret": secret})
            assert status == 200 and body["error_count"] == 0, body
            # [hidden] keeps the stored secret: the webhook still takes its signature.
            status, body = await call(session, "PUT", f"/connectors/{one_stop}/config",
                                      {**config, "webhook.max.batch": 500})
            assert status == 200, body
            assert body["config"]["webhook.secret"] == "[hidden]"
            await wait_for(lambda: cli("status", one_stop, "--json"),
                           lambda s: s["connector"]["state"] == "RUNNING", timeout_s=30,
                           what="one-stop running again")
            payload = orjson.dumps(EVENT)
            async with session.post(
                f"http://127.0.0.1:{hook_port}/webhooks/dossier-events", data=payload,
                headers={"X-Signature": sign(secret.encode(), payload),
                         "Content-Type": "application/json"},
            ) as resp:
                assert resp.status in (200, 202), await resp.text()
        for args in (("get", one_stop), ("config", one_stop), ("list",), ("list", "--json"),
                     ("status", ioffice)):
            await cli(*args)
    finally:
        await gateway.stop()

    # Restarted with another key, the sealed secret does not open: one connector FAILED
    # with one line naming it; the connector whose secret is a reference runs.
    gateway.env["LGSP_SECRETS_KEY"] = generate_key()
    await gateway.start()
    try:
        failed = await wait_for(lambda: cli("status", one_stop, "--json"),
                                lambda s: s["connector"]["state"] == "FAILED", timeout_s=30,
                                what="one-stop failed")
        line = failed["connector"]["trace"]
        assert "\n" not in line
        assert f"connector {one_stop!r}" in line and "wrong key" in line, line
        await wait_for(lambda: cli("status", ioffice, "--json"),
                       lambda s: s["connector"]["state"] == "RUNNING", timeout_s=30,
                       what="ioffice running")
    finally:
        await gateway.stop()

    records = await _every_record(kafka.bootstrap, topics.prefix)
    stored = b"".join(records)
    assert b"${env:IOFFICE_TOKEN}" in stored  # the reference, not the token
    assert b"${sealed:v1:" in stored
    logs = await gateway.log_text()
    for value in (secret, token):
        assert value.encode() not in stored, "a secret is in a gateway topic"
        assert value not in logs, "a secret is in the gateway's log"
        assert not [text for text in seen if value in text], "a secret is in an answer"
