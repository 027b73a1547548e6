"""`lgsp run`, `lgsp tokens`, `lgsp connectors --token` and `lgsp audit` as real processes."""

from __future__ import annotations

import stat
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from devkit.localkafka import free_port
from gateway.contracts import Codec
from gateway.kafka import KafkaAdmin, Producer, TopicSpec, read_topic
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.auth import admin_token
from tests.support.processes import ServerProcess, loopback_env, run_lgsp
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(kafka: BrokerHandle, topics: Topics, tmp_path: Path) -> dict[str, str]:
    return loopback_env(bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
                        state_dir=str(tmp_path / "state"), port=str(free_port()),
                        log_format="json", ndxp__url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture
async def gateway(env: dict[str, str], tmp_path: Path) -> AsyncIterator[str]:
    process = ServerProcess(["run"], env=env, log_path=tmp_path / "gateway.log",
                            ready_prefix="gateway ready")
    await process.start()
    try:
        yield f"http://127.0.0.1:{env['LGSP_PORT']}"
    finally:
        await process.stop()


async def _status(url: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, \
            session.get(f"{url}/connectors", headers=headers) as resp:
        return resp.status


def _one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("lgsp: error: "), err
    return lines[0]


async def test_tokens_created_and_revoked_while_it_runs_take_effect_within_5_s(
    gateway: str, env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    log = (tmp_path / "gateway.log").read_text()
    first = admin_token(state)
    assert str(state / "auth" / "admin.token") in log
    assert first not in log, "the token itself is never logged"
    assert stat.S_IMODE((state / "auth" / "admin.token").stat().st_mode) == 0o600
    assert await _status(gateway, None) == 401

    created = await run_lgsp("tokens", "create", "--name", "ops-viewer", "--role", "viewer",
                             "--expires", "30d", env=env)
    assert created.code == 0, created.err
    token = created.out.strip().splitlines()[-1]
    assert token.startswith("lgsp_") and " " not in token
    await wait_for(lambda: _status(gateway, token), lambda s: s == 200, timeout_s=5,
                   what="a new token accepted")

    listing = await run_lgsp("tokens", "list", env=env)
    assert listing.code == 0, listing.err
    assert "ops-viewer" in listing.out and "viewer" in listing.out and "admin" in listing.out
    assert token not in listing.out and first not in listing.out

    # The CLI with the viewer's token: reads work, a change is refused in one line.
    viewer_env = {**env, "LGSP_TOKEN": token}
    assert (await run_lgsp("connectors", "list", env=viewer_env)).code == 0
    paused = await run_lgsp("connectors", "pause", "reports", env=viewer_env)
    assert paused.code == 1
    assert _one_line(paused.err) == ("lgsp: error: not allowed (403): this operation needs "
                                     "the operator role (or admin)")
    bogus = await run_lgsp("connectors", "list", "--token", "lgsp_bogus", env=env)
    assert bogus.code == 1
    assert _one_line(bogus.err).startswith("lgsp: error: the gateway refused the credentials "
                                           "(401): the token is not valid")
    # With no token given, the CLI on the gateway's machine uses the first-start token.
    assert (await run_lgsp("connectors", "list", env=env)).code == 0

    revoked = await run_lgsp("tokens", "revoke", "ops-viewer", env=env)
    assert revoked.code == 0, revoked.err
    started = time.monotonic()
    await wait_for(lambda: _status(gateway, token), lambda s: s == 401, timeout_s=5,
                   interval_s=0.1, what="the revoked token refused")
    assert time.monotonic() - started <= 5.0
    missing = await run_lgsp("tokens", "revoke", "ops-viewer", env=env)
    assert missing.code == 1
    assert _one_line(missing.err).startswith("lgsp: error: no token named ops-viewer")

    # The trail names who did each of it, and is intact.
    audit = await run_lgsp("audit", "list", env=env)
    assert audit.code == 0, audit.err
    rows = audit.out.splitlines()
    assert any("token.create" in r and "token ops-viewer" in r and "os:" in r for r in rows)
    assert any("token.revoke" in r and "token ops-viewer" in r for r in rows)
    assert any("connector.pause" in r and "token:ops-viewer" in r and "DENIED" in r
               for r in rows)
    verified = await run_lgsp("audit", "verify", env=env)
    assert verified.code == 0, verified.err
    assert "intact" in verified.out


async def test_mode_none_is_refused_off_loopback(env: dict[str, str]) -> None:
    refused = await run_lgsp("run", env={**env, "LGSP_AUTH__MODE": "none",
                                         "LGSP_HOST": "0.0.0.0"}, timeout_s=60)
    assert refused.code == 1
    assert "LGSP_AUTH__MODE=none is refused" in _one_line(
        "\n".join(ln for ln in refused.err.splitlines() if ln.startswith("lgsp:")))


@pytest.mark.usefixtures("gateway")
async def test_audit_verify_names_a_record_altered_deleted_or_inserted(
    env: dict[str, str], kafka: BrokerHandle, topics: Topics, codec: Codec,
    kafka_admin: KafkaAdmin,
) -> None:
    for n in range(4):
        made = await run_lgsp("tokens", "create", "--name", f"t{n}", "--role", "viewer",
                              env=env)
        assert made.code == 0, made.err
    values = [r.value for r in await read_topic(kafka.bootstrap, topics.audit)
              if r.value is not None]
    assert len(values) == 5  # the first-start admin token, then four

    def altered(vs: list[bytes]) -> list[bytes]:
        datum = codec.decode(vs[2])
        return [*vs[:2], codec.encode(codec.writer_of(vs[2]), {**datum, "detail": "role admin"}),
                *vs[3:]]

    def inserted(vs: list[bytes]) -> list[bytes]:
        forged = codec.encode(codec.writer_of(vs[2]),
                              {**codec.decode(vs[2]), "target": "token backdoor"})
        return [*vs[:2], forged, *vs[2:]]

    cases: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str | None]] = {
        "intact": (list, None),
        "altered": (altered, "audit record at offset 2 altered"),
        "deleted": (lambda vs: [*vs[:2], *vs[3:]], "audit record at offset 2 deleted"),
        "inserted": (inserted, "audit record at offset 2 inserted"),
    }
    producer = Producer(kafka.bootstrap)
    await producer.start()
    try:
        for name, (tamper, expected) in cases.items():
            copy = Topics(f"{topics.prefix}{name}.")
            await kafka_admin.ensure_topics([TopicSpec(copy.audit, 1)])
            for value in tamper(values):
                await producer.send_and_wait(copy.audit, value)
            result = await run_lgsp("audit", "verify",
                                    env={**env, "LGSP_TOPIC_PREFIX": copy.prefix})
            if expected is None:
                assert result.code == 0, result.err
                assert "intact: 5 records" in result.out
            else:
                assert result.code == 1, (name, result.out)
                line = _one_line(result.err)
                assert expected in line, (name, line)
    finally:
        await producer.stop()
