"""The ioffice connector against the simulated iOffice and the real broker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.ioffice import IOfficeConnector
from devkit.simulators._synthetic import ICT
from devkit.simulators.ioffice import IOfficeSimulator
from gateway.connect.context import transaction_id_for
from gateway.errors import ConfigError, SchemaMismatchError
from gateway.testing.rig import Rig
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

T0 = datetime(2025, 8, 1, 8, 0, tzinfo=ICT)


def _config(sim: IOfficeSimulator, **overrides: Any) -> dict[str, Any]:
    return {"connector.class": "ioffice", "source.agency.code": "000.00.00.H12",
            "api.url": sim.url, "api.auth.type": "none", "poll.interval.ms": 100,
            "page.size": 5, **overrides}


@pytest.fixture
async def sim() -> Any:
    """A simulated iOffice without credentials."""
    simulator = IOfficeSimulator(seed=3)
    await simulator.start()
    yield simulator
    await simulator.stop()


def _ids(docs: list[dict[str, Any]]) -> list[str]:
    return [d["document_id"] for d in docs]


async def test_equal_timestamps_across_page_boundaries_are_neither_lost_nor_repeated(
    sim: IOfficeSimulator, rig: Rig
) -> None:
    # Groups of 5, 12 and 4 documents sharing a timestamp, read 5 per page.
    second = timedelta(seconds=1)
    docs = (sim.generate(5, modified_at=T0) + sim.generate(12, modified_at=T0 + second)
            + sim.generate(4, modified_at=T0 + 2 * second))
    async with rig.running(IOfficeConnector, _config(sim), name="io") as running:
        await rig.wait_published("io", 21, running=running)
        assert await rig.committed("io") == {
            "modified_at": (T0 + 2 * second).astimezone(UTC).isoformat(),
            "document_id": docs[-1]["document_id"],
        }
        # More documents at the cursor's own timestamp: still picked up, once.
        docs += sim.generate(3, modified_at=T0 + 2 * second)
        await rig.wait_published("io", 24, running=running)
        await asyncio.sleep(0.8)
        found = await rig.published("io")
    assert sorted(p.envelope.business_key for p in found) == sorted(_ids(docs))
    by_id = {p.envelope.business_key: p for p in found}
    for doc in docs:
        item = by_id[doc["document_id"]]
        modified = datetime.fromisoformat(doc["modified_at"])
        source_id = f"{doc['document_id']}@{modified.astimezone(UTC).isoformat()}"
        assert item.envelope.transaction_id == transaction_id_for("io", source_id)
        assert item.payload["number_symbol"] == doc["number_symbol"]
        assert item.payload["modified_at"] == modified
        assert [a["sha256"] for a in item.payload["attachments"]] == [
            a["sha256"] for a in doc["attachments"]]


async def test_resumes_inside_a_timestamp_group_bigger_than_a_page(
    sim: IOfficeSimulator, rig: Rig
) -> None:
    group = sim.generate(12, modified_at=T0)
    after = sim.generate(2, modified_at=T0 + timedelta(milliseconds=1))
    position = {"modified_at": T0.astimezone(UTC).isoformat(),
                "document_id": group[6]["document_id"]}
    async with rig.running(IOfficeConnector, _config(sim), name="io",
                           position=position) as running:
        await rig.wait_published("io", 7, running=running)
        await asyncio.sleep(0.6)
        found = await rig.published("io")
    assert sorted(p.envelope.business_key for p in found) == _ids(group[7:] + after)


async def test_a_changed_document_is_published_again_as_a_new_transaction(
    sim: IOfficeSimulator, rig: Rig
) -> None:
    doc = sim.generate(1, modified_at=T0)[0]
    async with rig.running(IOfficeConnector, _config(sim), name="io") as running:
        await rig.wait_published("io", 1, running=running)
        sim.touch(doc["document_id"], modified_at=T0 + timedelta(minutes=5))
        found = await rig.wait_published("io", 2, running=running)
    assert [p.envelope.business_key for p in found] == [doc["document_id"]] * 2
    assert len({p.envelope.transaction_id for p in found}) == 2
    assert {p.envelope.correlation_id for p in found} == {doc["document_id"]}


async def test_a_source_outage_is_retried_not_fatal(sim: IOfficeSimulator, rig: Rig) -> None:
    sim.generate(6)
    sim.fail_next(3, status=503)
    async with rig.running(IOfficeConnector, _config(sim), name="io") as running:
        await rig.wait_published("io", 6, running=running)
        sim.generate(2)
        await rig.wait_published("io", 8, running=running)
    assert sim.stats.failed_requests == 3


async def test_refused_credentials_fail_the_connector_after_the_limit(rig: Rig) -> None:
    simulator = IOfficeSimulator(token="the-right-token")
    await simulator.start()
    try:
        config = _config(simulator, **{"api.auth.type": "bearer", "api.token": "a-wrong-token",
                                       "auth.failures.max": 2})
        async with rig.running(IOfficeConnector, config, name="io",
                               expect_failure=True) as running:
            await wait_for(_done(running.task), bool, timeout_s=10, what="connector failure")
            error = running.failure()
    finally:
        await simulator.stop()
    assert isinstance(error, ConfigError)
    assert "HTTP 401 2 times in a row" in str(error)
    assert "a-wrong-token" not in str(error)


async def test_a_document_that_does_not_fit_fails_the_connector_after_the_good_ones(
    sim: IOfficeSimulator, rig: Rig
) -> None:
    docs = sim.generate(3, modified_at=T0)
    # The simulator hands out its stored documents: break one in place.
    docs[1]["issuing_agency_code"] = "UBND tinh"
    async with rig.running(IOfficeConnector, _config(sim), name="io",
                           expect_failure=True) as running:
        await wait_for(_done(running.task), bool, timeout_s=10, what="connector failure")
        error = running.failure()
        found = await rig.published("io")
    assert isinstance(error, SchemaMismatchError)
    assert docs[1]["document_id"] in str(error)
    assert "issuing_agency_code" in str(error)
    assert [p.envelope.business_key for p in found] == [docs[0]["document_id"]]


async def test_errors_tolerance_all_skips_a_bad_document_and_goes_on(
    sim: IOfficeSimulator, rig: Rig
) -> None:
    docs = sim.generate(3, modified_at=T0)
    docs[1]["urgency"] = "WHENEVER"
    config = _config(sim, **{"errors.tolerance": "all"})
    async with rig.running(IOfficeConnector, config, name="io") as running:
        await rig.wait_published("io", 2, running=running)
        await asyncio.sleep(0.5)
        found = await rig.published("io")
    assert sorted(p.envelope.business_key for p in found) == _ids([docs[0], docs[2]])


def _done(task: asyncio.Task[None]) -> Any:
    async def probe() -> bool:
        return task.done()

    return probe
