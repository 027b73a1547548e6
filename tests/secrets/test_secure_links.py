"""Encrypted, authenticated links end to end: SASL_SSL Kafka and https to the national side.

The broker is `lgsp kafka up --secure`'s (its own, started here: a SASL_SSL listener with
a generated CA and SCRAM users); the stub is `lgsp stub --tls`. The pipeline is the fault
suite's rig: three simulated systems, connectors created with the CLI, the router, and
the reckoning of every transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from devkit.certs import DevCa
from devkit.localkafka import LocalBroker, free_port
from gateway.contracts import Codec
from gateway.kafka import use_security
from gateway.settings import KafkaSettings, Settings
from tests.faults.rig import SecureLinks, fault_rig
from tests.support.broker import REPO_ROOT
from tests.support.processes import ServerProcess, loopback_env, run_lgsp
from tests.support.traffic import StreamPlan

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
async def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalBroker]:
    """`lgsp kafka up --secure` as a real process; stopped at the end."""
    state = tmp_path_factory.mktemp("secure-kafka")
    port, controller = free_port(), free_port()
    env = loopback_env(state_dir=str(state), cache_dir=str(REPO_ROOT / ".lgsp" / "cache"))
    done = await run_lgsp("kafka", "up", "--secure", "--port", str(port),
                          "--controller-port", str(controller), env=env, timeout_s=240)
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert lines[0] == f"127.0.0.1:{port}"
    printed = dict(line.split("=", 1) for line in lines[1:])
    assert printed["LGSP_KAFKA__SECURITY_PROTOCOL"] == "SASL_SSL"
    broker = LocalBroker(state / "kafka-secure", lib_cache=REPO_ROOT / ".lgsp" / "cache" / "kafka",
                         port=port, controller_port=controller, secure=True)
    assert broker.secure is not None and broker.secure.client_settings() == printed
    try:
        yield broker
    finally:
        await broker.down()


@pytest.fixture
def kafka_env(secure_broker: LocalBroker) -> dict[str, str]:
    """The client settings `lgsp kafka up --secure` printed."""
    assert secure_broker.secure is not None
    return secure_broker.secure.client_settings()


@pytest.fixture
def secure_clients(kafka_env: dict[str, str]) -> Iterator[None]:
    """This test process's own Kafka clients (the reckoning's readers) use SASL_SSL too."""
    section = {k.removeprefix("LGSP_KAFKA__").lower(): v for k, v in kafka_env.items()}
    use_security(KafkaSettings.model_validate(section))
    yield None
    use_security(KafkaSettings())


async def test_connector_to_router_to_stub_over_sasl_ssl_and_https(
    secure_broker: LocalBroker, kafka_env: dict[str, str], secure_clients: None,
    tmp_path: Path, codec: Codec,
) -> None:
    async with fault_rig("secure-links", secure_broker, tmp_path, codec,
                         secure=SecureLinks(kafka_env)) as rig:
        assert rig.stub_url.startswith("https://")
        traffic = rig.traffic(StreamPlan(documents=150, events=200, report_files=30,
                                         seconds=4))
        await asyncio.create_task(traffic.run())
        reckoning = await rig.settle(traffic, timeout_s=120)
        assert reckoning.lost == 0, await rig.diagnosis()
        assert reckoning.duplicates_at_stub == 0, await rig.diagnosis()
        assert reckoning.dead_lettered == 0
        assert reckoning.delivered_unique == reckoning.sent > 0
        log = await rig.gateway.log_text()
        assert kafka_env["LGSP_KAFKA__SASL_PASSWORD"] not in log
        # The CLI's own Kafka clients (trace reads the topics directly) use SASL_SSL too.
        some = sorted(rig.accounts.delivered_keys)[0]
        done = await run_lgsp("trace", some, "--json", env=rig.cli_env)
        assert done.code == 0, done.err
        assert some in done.out


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("lgsp")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


async def _refused(env: dict[str, str]) -> str:
    done = await run_lgsp("run", "--port", "0", env=env, timeout_s=90)
    assert done.code == 1, done.out + done.err
    return _one_line(done.err)


async def test_wrong_password_unknown_ca_and_expired_certificate_are_one_line(
    secure_broker: LocalBroker, kafka_env: dict[str, str], tmp_path: Path
) -> None:
    base = {**loopback_env(bootstrap_servers=secure_broker.bootstrap, roles="connectors",
                           state_dir=str(tmp_path / "state"), topic_prefix="refused."),
            **kafka_env}
    line = await _refused({**base, "LGSP_KAFKA__SASL_PASSWORD": "not-the-password"})
    assert "SASL SCRAM-SHA-512 login as 'lgsp' refused" in line, line

    stranger = DevCa(tmp_path / "other-ca", "some other CA")
    stranger.issue("unused")
    line = await _refused({**base, "LGSP_KAFKA__SSL_CA_FILE": str(stranger.cert_path)})
    assert "TLS: the broker's certificate is not trusted" in line, line

    assert secure_broker.secure is not None
    expired = secure_broker.secure.ca.issue(
        "expired-client", client=True, valid_from=datetime.now(UTC) - timedelta(days=30),
        valid_until=datetime.now(UTC) - timedelta(days=1))
    line = await _refused({**base, "LGSP_KAFKA__SSL_CERT_FILE": str(expired.cert),
                           "LGSP_KAFKA__SSL_KEY_FILE": str(expired.key)})
    assert "kafka.ssl_cert_file: the client certificate" in line and "expired on" in line, line

    # A valid client certificate from the broker's CA (mTLS) is accepted.
    good = secure_broker.secure.ca.issue("gateway-client", client=True)
    gateway = ServerProcess(["run", "--port", "0"], env={
        **base, "LGSP_KAFKA__SSL_CERT_FILE": str(good.cert),
        "LGSP_KAFKA__SSL_KEY_FILE": str(good.key)}, log_path=tmp_path / "mtls.log",
        ready_prefix="gateway ready")
    try:
        await gateway.start()
    finally:
        assert await gateway.stop() == 0


async def test_the_gateway_refuses_a_placeholder_secret_or_plain_http_off_loopback(
    tmp_path: Path,
) -> None:
    base = loopback_env(state_dir=str(tmp_path), bootstrap_servers=f"127.0.0.1:{free_port()}")
    line = await _refused({**base, "LGSP_NDXP__CLIENT_SECRET": "change-me"})
    assert line == ("lgsp: error: ndxp.client_secret is the placeholder 'change-me': set the "
                    "secret the national platform issued (LGSP_NDXP__CLIENT_SECRET)")
    line = await _refused({**base, "LGSP_NDXP__URL": "http://ndxp.example.gov.vn"})
    assert line.startswith("lgsp: error: ndxp.url http://ndxp.example.gov.vn is plain http "
                           "to ndxp.example.gov.vn, which is not this machine"), line
    # Explicitly allowed (a development cluster's stub): it gets as far as Kafka.
    line = await _refused({**base, "LGSP_NDXP__URL": "http://ndxp.example.gov.vn",
                           "LGSP_NDXP__ALLOW_PLAIN_HTTP": "true"})
    assert line.startswith("lgsp: error: cannot connect to Kafka"), line
    assert Settings().ndxp.url.startswith("http://127.0.0.1")
