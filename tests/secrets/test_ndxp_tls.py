"""The NDXP client over https to the stub: the CA, a client certificate (mTLS), refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from devkit.certs import DevCa
from devkit.localkafka import free_port
from devkit.stub import StubConfig, StubServer
from gateway.errors import ConfigError, TransientForwardError
from gateway.ndxp import NdxpClient
from gateway.settings import NdxpSettings
from tests.ndxp.factories import make_tx

SECRET = "ndxp-tls-test-secret"


@pytest.fixture
def ca(tmp_path: Path) -> DevCa:
    """A development CA for the stub and its clients."""
    return DevCa(tmp_path / "ca")


async def test_https_with_client_certificate(ca: DevCa, tmp_path: Path) -> None:
    server = ca.issue("stub")
    client = ca.issue("gateway", client=True)
    config = StubConfig(data_dir=tmp_path / "stub", port=free_port(), client_secret=SECRET,
                        fsync=False, tls_cert=server.cert, tls_key=server.key,
                        tls_client_ca=ca.cert_path)
    async with StubServer(config) as stub:
        assert stub.url.startswith("https://127.0.0.1:")
        settings = NdxpSettings(url=stub.url, client_secret=SecretStr(SECRET),
                                ssl_ca_file=ca.cert_path, ssl_cert_file=client.cert,
                                ssl_key_file=client.key)
        async with NdxpClient(settings) as ndxp:
            receipt = await ndxp.submit("QG.VBDT.GUINHAN", make_tx())
            assert not receipt.duplicate

        # Without a client certificate the stub refuses the TLS handshake.
        bare = NdxpSettings(url=stub.url, client_secret=SecretStr(SECRET),
                            ssl_ca_file=ca.cert_path)
        async with NdxpClient(bare) as ndxp:
            with pytest.raises(TransientForwardError):
                await ndxp.submit("QG.VBDT.GUINHAN", make_tx())

        # A CA that did not sign the stub's certificate: not trusted.
        other = DevCa(tmp_path / "other")
        other.issue("x")
        untrusted = NdxpSettings(url=stub.url, client_secret=SecretStr(SECRET),
                                 ssl_ca_file=other.cert_path, ssl_cert_file=client.cert,
                                 ssl_key_file=client.key)
        async with NdxpClient(untrusted) as ndxp:
            with pytest.raises(TransientForwardError, match="certificate"):
                await ndxp.submit("QG.VBDT.GUINHAN", make_tx())


async def test_an_expired_client_certificate_is_refused_before_connecting(ca: DevCa) -> None:
    now = datetime.now(UTC)
    old = ca.issue("old", client=True, valid_from=now - timedelta(days=9),
                   valid_until=now - timedelta(days=2))
    settings = NdxpSettings(url="https://127.0.0.1:1", client_secret=SecretStr(SECRET),
                            ssl_ca_file=ca.cert_path, ssl_cert_file=old.cert,
                            ssl_key_file=old.key)
    with pytest.raises(ConfigError, match=r"ndxp\.ssl_cert_file: the client certificate .* "
                       r"expired on"):
        await NdxpClient(settings).start()
