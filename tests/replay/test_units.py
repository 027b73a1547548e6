"""The replay's parts without a broker: times, rates, filters, headers, pacing, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.contracts import Codec
from gateway.errors import ConfigError
from gateway.headers import H_REPLAY_SOURCE
from gateway.kafka import Record
from gateway.replay import (
    AUDIT_SCHEMA,
    AuditRecord,
    AuditStatus,
    DeadLetter,
    ReplayFilter,
    TokenBucket,
    format_age,
    masked,
    parse_rate,
    parse_time,
)
from gateway.replay.audit import MAX_AUDIT_IDS
from gateway.replay.deadletters import resubmission_headers

NOW = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("2h", NOW - timedelta(hours=2)),
    ("30m", NOW - timedelta(minutes=30)),
    ("3d ago", NOW - timedelta(days=3)),
    ("1.5h", NOW - timedelta(minutes=90)),
    ("now", NOW),
    ("2026-11-01T10:00:00+07:00", datetime(2026, 11, 1, 3, 0, tzinfo=UTC)),
    ("2026-11-01T03:00Z", datetime(2026, 11, 1, 3, 0, tzinfo=UTC)),
])
def test_times_are_iso_or_an_age(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW) == expected


def test_a_time_without_zone_is_local_and_a_bad_time_says_what_is_accepted() -> None:
    local = parse_time("2026-11-01T10:00")
    assert local == datetime(2026, 11, 1, 10, 0).astimezone().astimezone(UTC)
    for bad in ("yesterday", "2h from now", "2026-13-01", "-2h", ""):
        with pytest.raises(ValueError, match="is not a time: use ISO-8601"):
            parse_time(bad, NOW)


def test_ages_and_rates() -> None:
    assert [format_age(s) for s in (5, 61, 7300, 200_000)] == ["5s", "1m", "2h", "2d"]
    assert [parse_rate(t) for t in ("50", "50/s", "2.5 / s")] == [50.0, 50.0, 2.5]
    for bad in ("0", "fast", "-1/s", "50/m", "100000"):
        with pytest.raises(ValueError, match="rate"):
            parse_rate(bad)


def _dead(tx: str = "tx-1", *, partition: int = 0, offset: int = 5, ts: int = 1_000,
          headers: tuple[tuple[str, bytes], ...] | None = None) -> Record:
    return Record("p.deadletter", partition, offset, b"H12-1", b"\xc3\x01payload", headers or (
        ("lgsp.transaction_id", tx.encode()),
        ("traceparent", b"00-abc"),
        ("__connect.errors.topic", b"p.src.one-stop"),
        ("__connect.errors.connector.name", b"one-stop"),
        ("__connect.errors.stage", b"TASK_PUT"),
        ("__connect.errors.exception.class.name", b"gateway.errors.RejectedError"),
        ("__connect.errors.exception.message", b"applicant 079203001234 refused"),
        ("lgsp.errors.attempts", b"1"),
        ("lgsp.errors.service", b"QG.DVCQG.DONGBOHOSO"),
        ("lgsp.errors.http_status", b"422"),
        ("lgsp.replay_id", b"rp-old"),
        ("lgsp.replay.dead_letter", b"0:1"),
    ), ts)


def test_a_dead_letter_record_is_read_and_resubmitted_as_the_original() -> None:
    dead = DeadLetter.from_record(_dead())
    assert dead is not None
    assert (dead.transaction_id, dead.connector, dead.service, dead.error_short,
            dead.attempts, dead.http_status, dead.replay_id, dead.marker) == (
        "tx-1", "one-stop", "QG.DVCQG.DONGBOHOSO", "RejectedError", 1, 422, "rp-old", "0:5")
    headers = resubmission_headers(_dead(), "rp-new")
    assert headers == [("lgsp.transaction_id", b"tx-1"), ("traceparent", b"00-abc"),
                       ("lgsp.replay_id", b"rp-new"), (H_REPLAY_SOURCE, b"0:5")]
    assert DeadLetter.from_record(_dead(headers=(("a", b"b"),))) is None  # undecodable


def test_newer_is_by_offset_in_a_partition_and_by_time_across() -> None:
    first = DeadLetter.from_record(_dead(offset=5, ts=2_000))
    later = DeadLetter.from_record(_dead(offset=9, ts=1_000))
    elsewhere = DeadLetter.from_record(_dead(partition=1, offset=1, ts=3_000))
    assert first and later and elsewhere
    assert later.newer_than(first) and not first.newer_than(later)
    assert elsewhere.newer_than(later)


def test_filters_match_the_latest_failure_and_refuse_malformed_values() -> None:
    dead = DeadLetter.from_record(_dead(ts=int(NOW.timestamp() * 1000)))
    assert dead is not None
    assert ReplayFilter().matches(dead)
    assert ReplayFilter.create(error_classes=["rejectederror"]).matches(dead)
    assert ReplayFilter.create(error_classes=["gateway.errors.RejectedError"]).matches(dead)
    assert not ReplayFilter.create(error_classes=["TransientForwardError"]).matches(dead)
    assert ReplayFilter.create(connectors=["one-stop"], services=["QG.DVCQG.DONGBOHOSO"],
                               failed_from=NOW, failed_to=NOW + timedelta(seconds=1)
                               ).matches(dead)
    assert not ReplayFilter.create(failed_to=NOW).matches(dead)  # "to" is exclusive
    assert not ReplayFilter.create(transaction_ids=["tx-2"]).matches(dead)
    with pytest.raises(ConfigError) as refused:
        ReplayFilter.create(connectors=["bad name"], error_classes=["9lives"],
                            failed_from=NOW, failed_to=NOW)
    assert str(refused.value).startswith("malformed replay filter: connector: 'bad name' is "
                                         "not a connector name")
    assert "error_class: '9lives'" in str(refused.value)
    assert "from: " in str(refused.value)


def test_failure_messages_shown_to_people_are_masked() -> None:
    assert masked("applicant 079203001234 refused") == "applicant *** refused"
    assert masked(None) == ""


async def test_the_token_bucket_paces_at_the_rate_with_small_bursts() -> None:
    clock = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(10, clock=lambda: clock[0], sleep=sleep)
    for _ in range(21):
        await bucket.take()
    assert clock[0] == pytest.approx(2.0)  # the first token is free, then 10 per second
    fast = TokenBucket(1000, clock=lambda: clock[0], sleep=sleep)
    assert fast.burst == 100
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)


def test_audit_records_round_trip_through_their_avro_schema(codec: Codec) -> None:
    record = AuditRecord(
        replay_id="rp-1", status=AuditStatus.COMPLETED, dry_run=False, operator="an",
        origin="cli@host", started_at=NOW, finished_at=NOW + timedelta(seconds=3),
        filter=ReplayFilter.create(failed_from=NOW - timedelta(hours=2),
                                   connectors=["one-stop"], error_classes=["RejectedError"]),
        rate_per_s=50.0, matched=3, selected=2, skipped_delivered=1, replayed=2,
        delivered=1, failed_again=1, message=None, recorded_at=NOW)
    record.set_ids([f"tx-{n}" for n in range(MAX_AUDIT_IDS + 5)])
    assert len(record.transaction_ids) == MAX_AUDIT_IDS and record.transaction_ids_truncated
    data = codec.encode(codec.registry.latest(AUDIT_SCHEMA), record.to_avro())
    back = AuditRecord.from_avro(codec.decode(data))
    assert back == record
    assert len(data) < 1_000_000  # fits Kafka's default record size
