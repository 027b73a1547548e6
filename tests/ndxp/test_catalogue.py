"""A national service added by settings is accepted and listed by the stub."""

from __future__ import annotations

import aiohttp
import pytest

from gateway.errors import ForwardError
from gateway.ndxp import NdxpClient
from gateway.ndxp.catalogue import catalogue_from
from gateway.settings import Settings
from tests.ndxp.conftest import StartStub, settings_for
from tests.ndxp.factories import make_tx

RADIO = "QG.TANSO.CAPPHEP"


async def test_a_service_added_by_settings_takes_transactions(start_stub: StartStub) -> None:
    settings = Settings(catalogue={"services": [{
        "code": RADIO, "name": "Cấp phép tần số vô tuyến điện",
        "owner_agency_code": "000.00.00.G12", "owner_name": "Cục Tần số vô tuyến điện"}]})
    stub = await start_stub(catalogue=catalogue_from(settings.catalogue))
    async with NdxpClient(settings_for(stub.url)) as client:
        receipt = await client.submit(RADIO, make_tx())
    assert (receipt.service, receipt.duplicate) == (RADIO, False)
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{stub.url}/ndxp/v1/services") as resp:
            listed = {s["code"]: s for s in (await resp.json())["services"]}
        async with session.get(f"{stub.url}/ndxp/v1/stats") as resp:
            stats = await resp.json()
    assert len(listed) == 24
    assert listed[RADIO]["owner_agency_code"] == "000.00.00.G12"
    assert stats["by_service"][RADIO]["unique"] == 1


async def test_without_the_setting_the_service_is_unknown(start_stub: StartStub) -> None:
    stub = await start_stub()
    async with NdxpClient(settings_for(stub.url)) as client:
        with pytest.raises(ForwardError, match=r"SERVICE_UNKNOWN|unknown"):
            await client.submit(RADIO, make_tx())
