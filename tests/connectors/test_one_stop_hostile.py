"""The one-stop webhook under hostile callers: time-stamped signatures, floods of uploads,
deep nesting and odd bodies. Every answer is a 4xx or 2xx, and the next good event gets
through."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import orjson
import pytest

from connectors.one_stop import OneStopConnector
from connectors.one_stop.signature import Verdict, check, sign, sign_timestamped
from gateway.connect.context import RuntimeContext
from gateway.connect.plugin import SourceContext, SourceRecord
from gateway.testing.rig import Rig
from tests.connectors.test_one_stop import CONFIG, SECRET, _event

KEY = SECRET.encode()


async def _post(url: str, body: bytes, signature: str | None) -> tuple[int, Any, str | None]:
    headers = {} if signature is None else {"X-Signature": signature}
    async with aiohttp.ClientSession() as session, session.post(
            url, data=body, headers=headers) as resp:
        raw = await resp.read()
        return resp.status, orjson.loads(raw) if raw else None, resp.headers.get("Retry-After")


def test_timestamped_signatures_are_checked_against_the_window() -> None:
    body = b'{"x": 1}'
    now = 1_750_000_000
    good = sign_timestamped(KEY, body, now)
    assert check(KEY, body, good, tolerance_s=300, now=now + 299) is Verdict.OK
    assert check(KEY, body, good, tolerance_s=300, now=now + 301) is Verdict.STALE
    assert check(KEY, body, good, tolerance_s=300, now=now - 301) is Verdict.STALE
    # A rolled secret: either v1 may match; the body and the time are both covered.
    rolled = f"{good},v1={'0' * 64}"
    assert check(KEY, body, rolled, tolerance_s=300, now=now) is Verdict.OK
    assert check(KEY, b'{"x": 2}', good, tolerance_s=300, now=now) is Verdict.MISMATCH
    moved = good.replace(f"t={now}", f"t={now + 1}")
    assert check(KEY, body, moved, tolerance_s=300, now=now) is Verdict.MISMATCH
    for bad in ("t=,v1=ab", "v1=" + "0" * 64, f"t={now}", f"t=1e9,v1={'0' * 64}",
                f"t={now},v1=zz", "garbage", f"t=-{now},v1={'0' * 64}", "t=١٢٣,v1=00"):
        assert check(KEY, body, bad, tolerance_s=300, now=now) is Verdict.MALFORMED, bad
    assert check(KEY, body, sign(KEY, body), tolerance_s=300) is Verdict.OK
    assert check(KEY, body, None, tolerance_s=300) is Verdict.MISSING


@pytest.mark.integration
async def test_timestamped_signature_over_http(rig: Rig) -> None:
    async with rig.running(OneStopConnector, CONFIG, name="os") as running:
        assert isinstance(running.connector, OneStopConnector)
        url = running.connector.webhook_url
        body = orjson.dumps(_event(1))
        stale = sign_timestamped(KEY, body, int(time.time()) - 3600)
        assert (await _post(url, body, stale))[0] == 401
        status, answer, _ = await _post(url, body, sign_timestamped(KEY, body))
        assert status == 200, answer
        found = await rig.wait_published("os", 1)
    assert [p.payload["event_id"] for p in found] == ["EV-test-1"]


class _Slow:
    """Holds every emit until released, so requests pile up in the webhook."""

    def __init__(self, inner: RuntimeContext) -> None:
        self.inner = inner
        self.release = asyncio.Event()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def position(self) -> Mapping[str, Any] | None:
        return self.inner.position

    async def emit(self, records: Sequence[SourceRecord]) -> list[str]:
        await self.release.wait()
        return await self.inner.emit(records)

    async def commit_position(self, position: Mapping[str, Any]) -> None:
        await self.inner.commit_position(position)


@pytest.mark.integration
async def test_uploads_beyond_the_limit_get_429_and_the_rest_are_stored(rig: Rig) -> None:
    slow: list[_Slow] = []

    def wrap(inner: RuntimeContext) -> SourceContext:
        slow.append(_Slow(inner))
        return slow[-1]

    config = {**CONFIG, "webhook.max.concurrent": 2}
    async with rig.running(OneStopConnector, config, name="os", wrap=wrap) as running:
        assert isinstance(running.connector, OneStopConnector)
        url = running.connector.webhook_url
        bodies = [orjson.dumps(_event(i)) for i in range(2)]
        held = [asyncio.create_task(_post(url, b, sign(KEY, b))) for b in bodies]
        await asyncio.sleep(0.5)
        extra = orjson.dumps(_event(9))
        status, answer, retry_after = await _post(url, extra, sign(KEY, extra))
        assert (status, retry_after) == (429, "1"), answer
        slow[0].release.set()
        assert [(await t)[0] for t in held] == [200, 200]
        # Room again: the refused event, sent again, is stored.
        assert (await _post(url, extra, sign(KEY, extra)))[0] == 200
        found = await rig.wait_published("os", 3)
    assert sorted(p.payload["event_id"] for p in found) == [
        "EV-test-0", "EV-test-1", "EV-test-9"]


def _shapes() -> list[bytes]:
    """Bodies a hostile or broken sender may post, each signed correctly."""
    event = _event(1)
    deep_list = b"[" * 100_000 + b"]" * 100_000
    deep_object = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    shapes: list[Any] = [
        None, 0, -1, 1e308, "text", [], {}, [[]], {"events": None}, {"events": {}},
        {"events": [None]}, {"events": [[]]}, {"events": ["x"]}, {"events": [{}]},
        {"events": [event] * 1001}, {"events": [event], "extra": 1},
        {**event, "fee_paid_vnd": 2**63 - 1}, {**event, "fee_paid_vnd": 2**64 - 1},
        {**event, "fee_paid_vnd": 1.5}, {**event, "fee_paid_vnd": True},
        {**event, "applicant": None}, {**event, "applicant": []},
        {**event, "applicant": {**event["applicant"], "full_name": "\u0000" * 10}},
        {**event, "note": "x" * 3000}, {**event, "event_id": ""},
        {**event, "received_at": "9999-12-31T23:59:59+14:00"},
        {**event, "received_at": "0001-01-01T00:00:00-12:00"},
        {**event, "received_at": 1e20}, {**event, "due_at": "now"},
        {**event, "status": {"$gt": ""}}, {**event, "event_id": {"nested": [1, 2]}},
        {**event, "dossier_code": "\U0010ffff" * 100},
    ]
    raw = [orjson.dumps(s) for s in shapes]
    raw.append(orjson.dumps(event).replace(b'"fee_paid_vnd":0', b'"fee_paid_vnd":' + b"9" * 40))
    raw.append(orjson.dumps({**event, "fee_paid_vnd": 1}).replace(
        b'"fee_paid_vnd":1', b'"fee_paid_vnd":' + str(2**70).encode()))
    raw += [deep_list, deep_object, b"", b"\xff\xfe\x00", b'{"event_id": "\\ud800"}',
            b'{"a": 1e99999}', b"12345678901234567890123456789012345678901234567890",
            b'{"event_id": "a"} trailing', b"\x00" * 100, b"NaN", b"[1, 2, 3" * 1000]
    rng = random.Random(16)
    good = orjson.dumps(event)
    for _ in range(60):
        cut = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(cut))
            choice = rng.random()
            if choice < 0.4:
                cut[at] = rng.randrange(256)
            elif choice < 0.7:
                del cut[at]
            else:
                cut[at:at] = rng.choice([b"{", b"[", b'"', b",", b"\\u", b"-", b"e9"])
        raw.append(bytes(cut))
    return raw


@pytest.mark.integration
async def test_no_body_gets_a_server_error(rig: Rig) -> None:
    async with rig.running(OneStopConnector, CONFIG, name="os") as running:
        assert isinstance(running.connector, OneStopConnector)
        url = running.connector.webhook_url
        accepted = 0
        for body in _shapes():
            status, answer, _ = await _post(url, body, sign(KEY, body))
            assert status < 500, (body[:200], status, answer)
            assert answer is not None and isinstance(answer, dict), body[:200]
            accepted += status == 200
            if status != 200:
                assert "\n" not in answer["error"]
        running.assert_running()
        last = orjson.dumps(_event(77))
        assert (await _post(url, last, sign(KEY, last)))[0] == 200
        found = await rig.wait_published("os", accepted + 1)
    assert "EV-test-77" in {p.payload["event_id"] for p in found}
