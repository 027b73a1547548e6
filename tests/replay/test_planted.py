"""Records planted in the gateway's own topics (ledger, dead letters, replay audit) are
skipped with a warning naming topic and offset: replay history, replays and trace go on."""

from __future__ import annotations

import uuid

import pytest

from gateway.headers import H_ATTEMPTS, H_STATUS, H_TRANSACTION
from tests.replay.rig import Rig
from tests.support.pipeline import dossier_envelope, publish
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


async def test_planted_records_are_skipped_and_replay_and_trace_keep_working(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    envelopes = await rig.unroutable(2)
    tx = envelopes[0].transaction_id
    t = rig.topics
    other_schema = dossier_envelope(rig.codec, 99).encode(rig.codec)
    planted = str(uuid.uuid4())
    for topic, key, value, headers in [
        (t.ledger, tx.encode(), b"\xc3\x01not avro at all", []),
        (t.ledger, tx.encode(), other_schema, []),
        (t.replay_audit, b"rp-planted", b"garbage", []),
        (t.replay_audit, b"rp-other", other_schema, []),
        (t.dead_letter, planted.encode(), b"x",
         [(H_TRANSACTION, planted.encode()), (H_ATTEMPTS, "²".encode()),
          (H_STATUS, b"9" * 5000)]),
    ]:
        await rig.producer.send_and_wait(topic, value, key=key, headers=headers)

    status, history = await rig.api("GET", "/replays")
    assert (status, history) == (200, []), history
    status, trace = await rig.api("GET", f"/transactions/{tx}")
    assert status == 200, trace
    assert trace["status"] == "DEAD_LETTERED"
    status, trace = await rig.api("GET", f"/transactions/{planted}")
    assert status == 200, trace

    # Replays still select, send and audit (these fail again: still no route).
    ids = [e.transaction_id for e in envelopes]
    status, preview = await rig.api("POST", "/replays", {
        "operator": "pham.thi.dung", "transaction_ids": ids, "dry_run": True})
    assert status == 200, preview
    assert sorted(c["transaction_id"] for c in preview["candidates"]) == sorted(ids)
    status, run = await rig.api("POST", "/replays", {
        "operator": "pham.thi.dung", "transaction_ids": ids, "wait_s": 30})
    assert status in (200, 202), run

    async def finished() -> dict[str, object]:
        code, body = await rig.api("GET", f"/replays/{run['replay_id']}")
        assert code == 200, body
        return dict(body)

    done = await wait_for(finished, lambda r: r["finished_at"] is not None, timeout_s=40,
                          what="the replay to finish")
    assert (done["status"], done["replayed"]) == ("COMPLETED", 2), done
    status, history = await rig.api("GET", "/replays")
    assert status == 200
    assert {r["replay_id"] for r in history} == {run["replay_id"], preview["replay"]["replay_id"]}

    # The next good transaction goes through, and its trace reads past the planted records.
    good = dossier_envelope(rig.codec, 7)
    await publish(rig.producer, rig.codec, rig.source, [good])
    await wait_for(rig.stats, lambda s: s["unique"] >= 1, timeout_s=30, what="delivered")
    status, trace = await wait_for(
        lambda: rig.api("GET", f"/transactions/{good.transaction_id}"),
        lambda answer: answer[0] == 200 and answer[1]["status"] == "DELIVERED",
        timeout_s=30, what="the good transaction's trace")

    logged = capsys.readouterr()
    text = logged.out + logged.err
    for what, topic in (("undecodable ledger record skipped", t.ledger),
                        ("undecodable audit record skipped", t.replay_audit)):
        lines = [ln for ln in text.splitlines() if what in ln]
        assert lines, what
        assert any(topic in ln and "offset" in ln for ln in lines), lines
