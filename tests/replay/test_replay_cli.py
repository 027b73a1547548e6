"""`lgsp replay` and `lgsp trace` as provincial IT uses them, against a real pipeline."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import orjson
import pytest

from gateway.metrics import GATEWAY
from tests.replay.rig import Rig
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
N = 12


async def test_outage_dry_run_replay_twice_trace_and_history(rig: Rig) -> None:
    envelopes = await rig.dead_lettered(N)
    ids = {e.transaction_id for e in envelopes}
    assert (await rig.stats())["unique"] == 0

    # The dry run lists exactly the dead-lettered transactions, and sends nothing.
    dry = await rig.lgsp("replay", "--dry-run", "--operator", "tran.thi.binh")
    assert dry.code == 0, dry.err
    assert set(UUID.findall(dry.out)) == ids
    header = dry.out.splitlines()[0].split()
    assert header == ["TRANSACTION", "CONNECTOR", "SERVICE", "ERROR", "ATTEMPTS", "AGE"]
    row = next(line.split() for line in dry.out.splitlines() if envelopes[0].transaction_id
               in line)
    assert row[1:5] == ["one-stop", "QG.DVCQG.DONGBOHOSO", "TransientForwardError", "2"]
    assert f": {N} to replay ({N} matched the filter" in dry.out
    assert "TransientForwardError" in dry.out.split("why they failed:")[1]
    assert await rig.submissions() == []

    # The national side is back: one replay delivers all, each exactly once.
    await rig.national_side(down=False)
    replayed_before = GATEWAY.get_sample_value("lgsp_replayed_total", {"result": "replayed"})
    first = await rig.lgsp("replay", "--yes", "--rate", "200/s", "--operator", "nguyen.van.an",
                           "--wait-s", "30")
    assert first.code == 0, first.err
    summary = first.out.strip().splitlines()[-1]
    assert re.fullmatch(rf"replay rp-\S+: replayed {N}, delivered {N}, failed again 0, "
                        r"skipped as already delivered 0", summary), summary
    stats = await rig.stats()
    assert (stats["unique"], stats["duplicates"]) == (N, 0)
    assert Counter(await rig.submissions()) == Counter(dict.fromkeys(ids, 1))
    # The CLI counts in its own process; this one's counter is untouched by it.
    assert GATEWAY.get_sample_value("lgsp_replayed_total", {"result": "replayed"}) \
        == replayed_before

    # The same replay again sends nothing: everything is delivered now.
    second = await rig.lgsp("replay", "--yes", "--operator", "nguyen.van.an")
    assert second.code == 0, second.err
    assert re.fullmatch(rf"replay rp-\S+: nothing to replay: {N} matched, {N} already "
                        "delivered", second.out.strip()), second.out
    assert len(await rig.submissions()) == N
    assert (await rig.stats())["received"] == N

    # The trace tells the whole story of one of them.
    tx = envelopes[3].transaction_id
    text = await rig.lgsp("trace", tx)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == f"transaction {tx}: DELIVERED (the national service has it)"
    kinds = [line.split()[2] for line in lines[3:] if line.strip()]
    assert kinds == ["ingested", "attempt", "attempt", "dead-lettered", "re-submitted",
                     "attempt", "delivered"], text.out
    assert "attempt 1: TransientForwardError (HTTP 503)" in text.out
    assert "dead-lettered after 2 attempts: TransientForwardError" in text.out
    assert "run by token:admin for nguyen.van.an" in text.out
    as_json = await rig.lgsp("trace", tx, "--json")
    assert as_json.code == 0, as_json.err
    trace = orjson.loads(as_json.out)
    assert trace["status"] == "DELIVERED"
    assert trace["receipt_id"]
    assert trace["ingested"]["topic"] == rig.source
    assert trace["ingested"]["found_by"] == "ledger"
    events = trace["events"]
    assert [e["kind"] for e in events] == ["ingested", "attempt", "attempt", "dead_lettered",
                                          "replay_submitted", "attempt", "delivered"]
    replay_id = events[4]["replay_id"]
    assert events[4]["details"]["operator"] == "token:admin for nguyen.van.an"
    assert events[-1]["replay_id"] == replay_id
    assert events[-1]["details"]["receipt_id"] == trace["receipt_id"]
    assert events[3]["details"]["error_class"] == "gateway.errors.TransientForwardError"
    assert trace["replay_ids"] == [replay_id]

    # The audit trail has all three runs, the dry run marked as such.
    history = await rig.lgsp("replay", "history", "--json")
    assert history.code == 0, history.err
    runs = orjson.loads(history.out)
    assert [(r["status"], r["operator"], r["replayed"], r["delivered"]) for r in runs] == [
        ("COMPLETED", "token:admin for nguyen.van.an", 0, 0),
        ("COMPLETED", "token:admin for nguyen.van.an", N, N),
        ("DRY_RUN", "token:admin for tran.thi.binh", 0, 0),
    ]
    assert runs[1]["replay_id"] == replay_id
    assert set(runs[1]["transaction_ids"]) == ids
    assert runs[0]["skipped_delivered"] == N
    assert runs[2]["dry_run"] is True
    assert set(runs[2]["transaction_ids"]) == ids
    assert all(r["origin"].startswith("cli@") for r in runs)
    table = await rig.lgsp("replay", "history")
    assert table.code == 0, table.err
    assert table.out.splitlines()[0].split()[:5] == ["REPLAY", "STARTED", "OPERATOR", "STATUS",
                                                    "FILTER"]
    assert replay_id in table.out and "DRY_RUN" in table.out and "tran.thi.binh" in table.out


async def test_filters_select_by_id_error_and_time_and_a_failed_again_one_is_eligible(
    rig: Rig,
) -> None:
    envelopes = await rig.dead_lettered(4)
    ids = [e.transaction_id for e in envelopes]

    by_id = await rig.lgsp("replay", "--dry-run", "--json", "--id", ids[0], ids[2])
    assert by_id.code == 0, by_id.err
    preview = orjson.loads(by_id.out)
    assert {c["transaction_id"] for c in preview["candidates"]} == {ids[0], ids[2]}
    assert preview["replay"]["status"] == "DRY_RUN"
    assert preview["candidates"][0]["error"] == "TransientForwardError"

    none_later = await rig.lgsp("replay", "--dry-run", "--from", "2099-01-01")
    assert none_later.code == 1
    assert "no dead-lettered transaction matches the filter (from=2099-01-01" in \
        none_later.one_line_error()
    filters = (["--error-class", "gateway.errors.TransientForwardError"],
               ["--error-class", "transientforwarderror", "--from", "1h", "--to", "now"],
               ["--connector", "one-stop", "--service", "QG.DVCQG.DONGBOHOSO"])
    dry_runs = await asyncio.gather(*(rig.lgsp("replay", "--dry-run", "--json", *flt)
                                      for flt in filters))
    for flt, matched in zip(filters, dry_runs, strict=True):
        assert matched.code == 0, (flt, matched.err)
        assert len(orjson.loads(matched.out)["candidates"]) == 4, flt

    # Replayed while the national side is still down: they fail again, and that newer
    # failure makes them eligible once more.
    still_down = await rig.lgsp("replay", "--yes", "--id", ids[0], "--wait-s", "30")
    assert still_down.code == 3, still_down.err
    assert "replayed 1, delivered 0, failed again 1" in still_down.out
    again = await rig.lgsp("replay", "--dry-run", "--json", "--id", ids[0])
    candidate = orjson.loads(again.out)["candidates"][0]
    assert candidate["failed_in_replay"] is not None
    await rig.national_side(down=False)
    fixed = await rig.lgsp("replay", "--yes", "--id", ids[0], "--wait-s", "30")
    assert fixed.code == 0, fixed.err
    assert "replayed 1, delivered 1, failed again 0" in fixed.out
    stats = await rig.stats()
    assert (stats["unique"], stats["duplicates"]) == (1, 0)


async def test_bad_input_is_one_line_and_replays_nothing(rig: Rig) -> None:
    await rig.dead_lettered(2)
    audits_before = len(await rig.records(rig.topics.replay_audit))
    cases = {
        ("--id", "00000000-0000-4000-8000-000000000000", "--yes"):
            (1, "lgsp: error: transaction 00000000-0000-4000-8000-000000000000 has no "
                "dead-letter record"),
        ("--connector", "nobody", "--yes"):
            (1, "lgsp: error: no dead-lettered transaction matches the filter "
                "(connector=nobody); nothing replayed"),
        ("--from", "yesterday-ish", "--yes"):
            (2, "lgsp replay: error: argument --from: 'yesterday-ish' is not a time"),
        ("--from", "1h", "--to", "2h", "--yes"):
            (1, "lgsp: error: malformed replay filter: from: "),
        ("--error-class", "Not An Error!", "--yes"):
            (2, "lgsp replay: error: argument --error-class: 'Not An Error!' is not an "
                "error class name"),
        ("--rate", "fast", "--yes"): (2, "lgsp replay: error: argument --rate: 'fast' is not "
                                         "a rate"),
        ("--id", "x" * 41, "--yes"): (2, "lgsp replay: error: argument --id: "),
        ("--yes", "--rate", "0/s"): (2, "lgsp replay: error: argument --rate: rate 0/s must be "
                                        "above 0"),
        # Without --yes and without a terminal to ask on, nothing is sent.
        (): (1, "lgsp: error: 2 transactions selected; add --yes to replay them"),
    }
    results = await asyncio.gather(*(rig.lgsp("replay", *args) for args in cases))
    for (args, (code, start)), result in zip(cases.items(), results, strict=True):
        assert result.code == code, (args, result.err)
        assert result.one_line_error().startswith(start), (args, result.err)
        assert "Traceback" not in result.err
    unknown = await rig.lgsp("trace", "00000000-0000-4000-8000-000000000000")
    assert unknown.code == 1
    assert unknown.one_line_error().startswith(
        "lgsp: error: transaction 00000000-0000-4000-8000-000000000000 is unknown")
    assert unknown.out == ""
    assert await rig.submissions() == []
    assert len(await rig.records(rig.topics.replay_audit)) == audits_before
    no_config = await rig.lgsp("replay", "--dry-run", "--config", "/nonexistent.toml")
    assert no_config.code == 1
    assert no_config.one_line_error() == \
        "lgsp: error: config file /nonexistent.toml does not exist"
    wrong_prefix = await rig.lgsp("replay", "--dry-run", env={"LGSP_TOPIC_PREFIX": "nope."})
    assert wrong_prefix.code == 1
    assert wrong_prefix.one_line_error().startswith(
        f"lgsp: error: topic nope.deadletter does not exist on {rig.bootstrap}: check the "
        "topic prefix")


async def test_a_replay_waits_for_outcomes_only_as_long_as_told(rig: Rig) -> None:
    envelopes = await rig.dead_lettered(3)
    await rig.national_side(down=False)
    await rig.stub_latency(1500)
    quick = await rig.lgsp("replay", "--yes", "--wait-s", "0.2")
    assert quick.code == 3, quick.err
    assert re.search(r"replayed 3, delivered \d, failed again 0, skipped as already "
                     r"delivered 0, still pending [1-3]$", quick.out.strip()), quick.out
    await wait_for(rig.stats, lambda s: s["unique"] == 3, timeout_s=30, what="all 3 delivered")
    ledger = await rig.ledger()
    delivered = {r["transaction_id"] for r in ledger if r["outcome"] == "DELIVERED"}
    assert delivered == {e.transaction_id for e in envelopes}
