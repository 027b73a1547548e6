"""OAuth2 client credentials and the IP allow-list, as a caller meets them."""

from __future__ import annotations

import ipaddress

import pytest
from pydantic import SecretStr

from devkit.stub import StubServer
from gateway.errors import RejectedError
from gateway.ndxp import NdxpClient
from tests.ndxp.conftest import SECRET, Http, StartStub, basic, settings_for
from tests.ndxp.factories import make_tx, raw_body

TOKEN = "/oauth2/token"
PATH = "/ndxp/v1/services/QG.VBDT.GUINHAN/transactions"


async def test_a_token_is_issued_for_basic_or_form_credentials(http: Http) -> None:
    by_basic = await http.call("POST", TOKEN, headers={"Authorization": basic("lgsp", SECRET)},
                               data={"grant_type": "client_credentials"})
    by_form = await http.call("POST", TOKEN, data={"grant_type": "client_credentials",
                                                   "client_id": "lgsp", "client_secret": SECRET})
    for status, body in (by_basic, by_form):
        assert status == 200
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert len(body["access_token"]) >= 32
    assert by_basic[1]["access_token"] != by_form[1]["access_token"]


async def test_wrong_credentials_or_grant_are_refused(http: Http) -> None:
    status, body = await http.call("POST", TOKEN, headers={"Authorization": basic("x", "no")},
                                   data={"grant_type": "client_credentials"})
    assert (status, body["result_code"], body["error"]) == (401, "AUTH_ERROR", "invalid_client")

    status, body = await http.call("POST", TOKEN, headers={"Authorization": basic("x", SECRET)},
                                   data={"grant_type": "password"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", f"Basic {SECRET}"])
async def test_a_transaction_without_a_valid_bearer_token_is_401(
    http: Http, authorization: str | None
) -> None:
    headers = {"Idempotency-Key": "k-1"}
    if authorization:
        headers["Authorization"] = authorization
    status, body = await http.call("POST", PATH, headers=headers, json=raw_body("k-1"))

    assert (status, body["result_code"]) == (401, "AUTH_ERROR")
    assert (await http.stats())["received"] == 0


async def test_a_client_with_the_wrong_secret_is_rejected_once_without_leaking_it(
    stub: StubServer, http: Http
) -> None:
    settings = settings_for(stub.url, client_secret=SecretStr("wrong-secret-123"))
    async with NdxpClient(settings) as client:
        with pytest.raises(RejectedError) as caught:
            await client.submit("QG.VBDT.GUINHAN", make_tx())
    assert caught.value.status == 401
    assert not caught.value.retriable
    assert "AUTH_ERROR" in str(caught.value)
    assert "wrong-secret-123" not in str(caught.value)


async def test_the_client_refreshes_its_token_when_the_stub_forgot_it(
    start_stub: StartStub, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A restarted stub has forgotten every token: the client's cached one gets a 401.
    first = await start_stub(data_dir=tmp_path_factory.mktemp("a"))
    async with NdxpClient(settings_for(first.url)) as client:
        await client.submit("QG.VBDT.GUINHAN", make_tx())
        await first.stop()
        second = await start_stub(port=first.port, data_dir=tmp_path_factory.mktemp("b"))
        receipt = await client.submit("QG.VBDT.GUINHAN", make_tx())
    assert receipt.duplicate is False
    assert second.url == first.url


async def test_a_client_outside_the_allow_list_gets_ip_not_allowed(
    start_stub: StartStub
) -> None:
    stub = await start_stub(allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    async with NdxpClient(settings_for(stub.url)) as client:
        with pytest.raises(RejectedError, match="IP_NOT_ALLOWED") as caught:
            await client.submit("QG.VBDT.GUINHAN", make_tx())
    assert caught.value.status == 403


async def test_a_client_inside_the_allow_list_is_served(start_stub: StartStub) -> None:
    stub = await start_stub(allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    async with NdxpClient(settings_for(stub.url)) as client:
        receipt = await client.submit("QG.VBDT.GUINHAN", make_tx())
    assert receipt.duplicate is False
