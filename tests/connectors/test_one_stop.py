"""The one-stop webhook against the real broker: authentication, refusals, acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import aiohttp
import orjson
import pytest

from connectors.one_stop import OneStopConnector
from connectors.one_stop.signature import sign
from devkit.simulators.one_stop import DossierEventSender
from gateway.connect.context import RuntimeContext, transaction_id_for
from gateway.connect.plugin import SourceContext, SourceRecord
from gateway.errors import KafkaUnavailableError
from gateway.testing.rig import Rig

pytestmark = pytest.mark.integration

SECRET = "one-stop-test-secret-0123"
CONFIG = {"connector.class": "one-stop", "source.agency.code": "000.00.00.H12",
          "listen.port": 0, "webhook.secret": SECRET}


def _event(n: int = 1, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": f"EV-test-{n}", "dossier_code": "000.00.12.H12-250801-0001",
        "procedure_code": "1.011442.000.00.00.H12", "receiving_agency_code": "000.00.12.H12",
        "status": "RECEIVED", "previous_status": None,
        "applicant": {"full_name": "Nguyễn Văn An", "identity_number": "096085001234",
                      "phone": "0912345678"},
        "received_at": "2025-08-01T08:00:00.000+07:00", "submission_channel": "ONLINE",
    }
    event.update(changes)
    return event


async def _post(url: str, body: bytes, signature: str | None = "sign"
                ) -> tuple[int, dict[str, Any]]:
    headers = {} if signature is None else {
        "X-Signature": sign(SECRET.encode(), body) if signature == "sign" else signature}
    async with aiohttp.ClientSession() as session, session.post(
            url, data=body, headers=headers) as resp:
        return resp.status, orjson.loads(await resp.read())


@pytest.fixture
async def webhook(rig: Rig) -> AsyncIterator[str]:
    """A running one-stop connector; yields its webhook URL."""
    async with rig.running(OneStopConnector, CONFIG, name="os") as running:
        assert isinstance(running.connector, OneStopConnector)
        yield running.connector.webhook_url


async def test_bad_or_missing_signature_is_401_and_publishes_nothing(
    webhook: str, rig: Rig
) -> None:
    body = orjson.dumps(_event())
    assert (await _post(webhook, body, signature=None))[0] == 401
    assert (await _post(webhook, body, signature=sign(b"guessed-secret", body)))[0] == 401
    assert (await _post(webhook, body, signature="sha256=" + "0" * 64))[0] == 401
    # A good request after them is the only record: nothing of the refused ones went out.
    assert (await _post(webhook, orjson.dumps(_event(2))))[0] == 200
    found = await rig.wait_published("os", 1)
    assert [p.payload["event_id"] for p in found] == ["EV-test-2"]


@pytest.mark.parametrize(("body", "field"), [
    (b'{"event_id": "x"', "body"),
    (b"[1, 2]", "body"),
    (orjson.dumps({k: v for k, v in _event().items() if k != "dossier_code"}), "dossier_code"),
    (orjson.dumps(_event(receiving_agency_code="UBND-xa")), "receiving_agency_code"),
    (orjson.dumps(_event(applicant={"full_name": "A", "identity_number": "12345"})),
     "applicant.identity_number"),
    (orjson.dumps(_event(received_at="2025-08-01T08:00:00")), "received_at"),
    (orjson.dumps(_event(status="DONE")), "status"),
    (orjson.dumps(_event(colour="red")), "colour"),
    (orjson.dumps({"events": []}), "events"),
    (orjson.dumps({"events": [_event(1), _event(2), _event(3, fee_paid_vnd=-5)]}),
     "events[2].fee_paid_vnd"),
])
async def test_malformed_body_is_400_naming_the_field_and_publishes_nothing(
    webhook: str, rig: Rig, body: bytes, field: str
) -> None:
    status, answer = await _post(webhook, body)
    assert status == 400
    assert answer["error"].startswith(f"{field}: ")
    assert "\n" not in answer["error"]
    assert "096085001234" not in answer["error"]
    assert (await _post(webhook, orjson.dumps(_event(9))))[0] == 200
    found = await rig.wait_published("os", 1)
    assert [p.payload["event_id"] for p in found] == ["EV-test-9"]


async def test_a_body_over_the_limit_is_413(rig: Rig) -> None:
    config = {**CONFIG, "webhook.max.body.bytes": 1024}
    async with rig.running(OneStopConnector, config, name="os") as running:
        assert isinstance(running.connector, OneStopConnector)
        events = [_event(i) for i in range(10)]
        status, answer = await _post(running.connector.webhook_url,
                                     orjson.dumps({"events": events}))
    assert status == 413
    assert "webhook.max.body.bytes" in answer["error"]


async def test_a_batch_is_published_whole(webhook: str, rig: Rig) -> None:
    events = [_event(i, status="PROCESSING", previous_status="RECEIVED") for i in range(4)]
    status, answer = await _post(webhook, orjson.dumps({"events": events}))
    assert status == 200
    assert answer["transaction_ids"] == [transaction_id_for("os", e["event_id"]) for e in events]
    found = await rig.wait_published("os", 4)
    assert {p.payload["event_id"] for p in found} == {e["event_id"] for e in events}
    assert {p.envelope.business_key for p in found} == {events[0]["dossier_code"]}
    assert {p.payload["submission_channel"] for p in found} == {"ONLINE"}


async def test_a_resent_event_keeps_its_transaction_id(webhook: str, rig: Rig) -> None:
    body = orjson.dumps(_event(5))
    first = await _post(webhook, body)
    again = await _post(webhook, body)
    assert first == again
    assert first[0] == 200
    found = await rig.wait_published("os", 2)
    assert {p.envelope.transaction_id for p in found} == {transaction_id_for("os", "EV-test-5")}
    assert {p.envelope.correlation_id for p in found} == {_event()["dossier_code"]}


class _HeldContext:
    """Holds every emit after Kafka acknowledged it, until the test releases it."""

    def __init__(self, inner: RuntimeContext) -> None:
        self.inner = inner
        self.acknowledged = asyncio.Event()
        self.release = asyncio.Event()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def position(self) -> Mapping[str, Any] | None:
        return self.inner.position

    async def emit(self, records: Sequence[SourceRecord]) -> list[str]:
        ids = await self.inner.emit(records)
        self.acknowledged.set()
        await self.release.wait()
        return ids

    async def commit_position(self, position: Mapping[str, Any]) -> None:
        await self.inner.commit_position(position)


async def test_answers_only_after_kafka_acknowledged(rig: Rig) -> None:
    held: list[_HeldContext] = []

    def hold(inner: RuntimeContext) -> SourceContext:
        held.append(_HeldContext(inner))
        return held[-1]

    async with rig.running(OneStopConnector, CONFIG, name="os", wrap=hold) as running:
        assert isinstance(running.connector, OneStopConnector)
        answer = asyncio.create_task(_post(running.connector.webhook_url,
                                           orjson.dumps(_event(7))))
        await asyncio.wait_for(held[0].acknowledged.wait(), 10)
        await asyncio.sleep(0.3)
        assert not answer.done(), "answered while the emit had not returned"
        held[0].release.set()
        status, body = await answer
    assert status == 200
    assert body["transaction_ids"] == [transaction_id_for("os", "EV-test-7")]


class _FlakyContext:
    """Kafka "does not acknowledge" the first `failures` emits."""

    def __init__(self, inner: RuntimeContext, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def position(self) -> Mapping[str, Any] | None:
        return self.inner.position

    async def emit(self, records: Sequence[SourceRecord]) -> list[str]:
        if self.failures > 0:
            self.failures -= 1
            raise KafkaUnavailableError("Kafka produce failed: simulated broker outage")
        return await self.inner.emit(records)

    async def commit_position(self, position: Mapping[str, Any]) -> None:
        await self.inner.commit_position(position)


async def test_kafka_failure_is_503_and_the_senders_retry_keeps_the_id(rig: Rig) -> None:
    async with rig.running(OneStopConnector, CONFIG, name="os",
                           wrap=lambda inner: _FlakyContext(inner, 2)) as running:
        assert isinstance(running.connector, OneStopConnector)
        url = running.connector.webhook_url
        status, answer = await _post(url, orjson.dumps(_event(1)))
        assert (status, answer["error"]) == (503, "not stored, send again later")
        sender = DossierEventSender(url, SECRET, seed=1, keep_sent=True)
        summary = await sender.send(3)
        found = await rig.wait_published("os", 3)
    assert (summary.accepted, summary.retried, summary.failed) == (3, 1, 0)
    assert sorted(p.envelope.transaction_id for p in found) == sorted(
        transaction_id_for("os", e["event_id"]) for e in sender.sent_events)


@pytest.mark.parametrize("batch", [1, 5])
async def test_each_dossiers_events_reach_kafka_in_order(
    webhook: str, rig: Rig, batch: int
) -> None:
    sender = DossierEventSender(webhook, SECRET, concurrency=6, seed=4, batch=batch)
    summary = await sender.send(60)
    assert (summary.sent, summary.accepted, summary.failed) == (60, 60, 0)
    found = await rig.wait_published("os", 60)
    # One dossier is one key, hence one partition, read back in offset order: each
    # event's previous_status must be the status of the event before it.
    last: dict[str, str | None] = {}
    for p in found:
        dossier = p.envelope.business_key
        assert p.payload["previous_status"] == last.get(dossier), dossier
        last[dossier] = p.payload["status"]
    assert len(last) > 6
