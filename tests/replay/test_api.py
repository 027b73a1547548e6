"""Replay and trace through the gateway's admin API (the same engine as the CLI)."""

from __future__ import annotations

import pytest

from gateway.metrics import GATEWAY
from tests.replay.rig import Rig
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _replayed() -> float:
    return GATEWAY.get_sample_value("lgsp_replayed_total", {"result": "replayed"}) or 0.0


async def test_replay_and_trace_over_http(rig: Rig) -> None:
    envelopes = await rig.dead_lettered(5)
    ids = {e.transaction_id for e in envelopes}

    status, doc = await rig.api("GET", "/openapi.json")
    assert status == 200
    for path, method in (("/replays", "post"), ("/replays", "get"),
                         ("/replays/{replay_id}", "get"),
                         ("/transactions/{transaction_id}", "get")):
        assert method in doc["paths"][path], path
    assert set(doc["paths"]["/replays"]["post"]["responses"]) >= {"200", "202", "400", "404",
                                                                  "409", "422"}

    refusals = [
        ({"operator": "a", "from": "soon"}, 400, "invalid request body: from: "),
        ({"dry_run": True, "rate": 0}, 400, "invalid request body: rate: "),
        ({"operator": "a", "connectors": ["nobody"]}, 422,
         "no dead-lettered transaction matches the filter (connector=nobody)"),
        ({"operator": "a", "transaction_ids": [UNKNOWN]}, 404,
         f"transaction {UNKNOWN} has no dead-letter record"),
        ({"operator": "a", "from": "1h", "to": "2h"}, 400, "malformed replay filter: from: "),
    ]
    for body, code, start in refusals:
        status, error = await rig.api("POST", "/replays", body)
        assert (status, error["error_code"]) == (code, code), (body, error)
        assert error["message"].startswith(start), (body, error)

    status, preview = await rig.api("POST", "/replays", {"operator": "pham.thi.dung",
                                                         "dry_run": True, "from": "1h"})
    assert status == 200, preview
    assert {c["transaction_id"] for c in preview["candidates"]} == ids
    assert preview["replay"]["status"] == "DRY_RUN"
    assert preview["replay"]["origin"] == "api@127.0.0.1"

    await rig.national_side(down=False)
    before = _replayed()
    status, run = await rig.api("POST", "/replays", {"operator": "pham.thi.dung",
                                                     "rate": 4, "wait_s": 30})
    assert status == 202, run
    assert run["status"] == "STARTED"
    status, busy = await rig.api("POST", "/replays", {"operator": "someone.else"})
    assert status == 409, busy
    assert busy["message"].startswith(f"a replay is already running in this gateway "
                                      f"({run['replay_id']})")

    async def progress() -> dict[str, object]:
        status, body = await rig.api("GET", f"/replays/{run['replay_id']}")
        assert status == 200, body
        return dict(body)

    done = await wait_for(progress, lambda r: r["finished_at"] is not None, timeout_s=30,
                          what="the API replay to finish")
    assert (done["status"], done["replayed"], done["delivered"]) == ("COMPLETED", 5, 5)
    assert _replayed() - before == 5
    stats = await rig.stats()
    assert (stats["unique"], stats["duplicates"]) == (5, 0)
    for _ in range(2):  # nothing left: answered at once, and the gateway is free again
        status, again = await rig.api("POST", "/replays", {"operator": "pham.thi.dung"})
        assert status == 200, again
        assert (again["status"], again["replayed"], again["skipped_delivered"]) == (
            "COMPLETED", 0, 5)

    tx = envelopes[0].transaction_id
    status, trace = await rig.api("GET", f"/transactions/{tx}")
    assert status == 200, trace
    assert trace["status"] == "DELIVERED"
    assert [e["kind"] for e in trace["events"]] == [
        "ingested", "attempt", "attempt", "dead_lettered", "replay_submitted", "attempt",
        "delivered"]
    assert trace["replay_ids"] == [run["replay_id"]]
    status, missing = await rig.api("GET", f"/transactions/{UNKNOWN}")
    assert (status, missing["error_code"]) == (404, 404)
    assert missing["message"].startswith(f"transaction {UNKNOWN} is unknown")
    status, bad = await rig.api("GET", "/transactions/not%20an%20id")
    assert status == 400, bad

    status, history = await rig.api("GET", "/replays?limit=5")
    assert status == 200
    assert [(r["status"], r["replayed"]) for r in history] == [
        ("COMPLETED", 0), ("COMPLETED", 0), ("COMPLETED", 5), ("DRY_RUN", 0)]
    # The authenticated subject, then the person named in the request.
    assert {r["operator"] for r in history} == {"token:admin for pham.thi.dung"}
    assert (await rig.api("GET", "/replays?limit=many"))[0] == 400
    assert (await rig.api("GET", "/replays/rp-nope"))[0] == 404


async def test_stopping_the_gateway_interrupts_its_replay_and_audits_it(rig: Rig) -> None:
    await rig.dead_lettered(4)
    await rig.national_side(down=False)
    status, run = await rig.api("POST", "/replays", {"operator": "vo.thi.em", "rate": 1})
    assert status == 202, run
    await wait_for(rig.submissions, lambda s: len(s) >= 1, timeout_s=10,
                   what="the first re-submission")
    await rig.gateway.stop()  # SIGTERM of `lgsp run` does this
    sent = len(await rig.submissions())
    assert sent < 4
    audits = await rig.records(rig.topics.replay_audit)
    last = rig.codec.decode(audits[-1].value or b"")
    assert (last["replay_id"], last["status"], last["operator"]) == (
        run["replay_id"], "INTERRUPTED", "token:admin for vo.thi.em")
    assert last["message"] == f"interrupted after re-submitting {last['replayed']} of 4"
    assert last["replayed"] <= sent
