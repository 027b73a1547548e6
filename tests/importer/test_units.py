"""Pure parts of `lgsp import`: readers, conversion to the Avro datum, ids, the ack window."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from devkit.exports import write_export
from gateway.contracts import Codec, Envelope, SchemaRegistry
from gateway.errors import ConfigError, ImportFileError, KafkaUnavailableError
from gateway.importer import (
    Checkpoint,
    ExportFile,
    FileIdentity,
    InvalidFieldError,
    Prepared,
    RecordConverter,
    RecordPreparer,
    Rejection,
    RunIdentity,
    format_of,
    record_transaction_id,
    shape_for,
)
from gateway.importer.readers import RawRecord, UnreadableRecord
from gateway.importer.window import AckWindow
from gateway.kafka import DeliveryReport
from gateway.settings import Settings

RUN = RunIdentity("onestop.dossier_event", "lgsp.src.import", "one-stop", "000.00.00.H12",
                  "import", None)


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "bl-1", "dossier_code": "H09.22-190102-0000001",
        "procedure_code": "1.011442.000.00.00.H09", "receiving_agency_code": "000.00.12.H09",
        "status": "COMPLETED", "applicant": {"full_name": "Lê Thị Hoa",
                                             "identity_number": "094351962838"},
        "received_at": "2019-01-02T07:43:00+07:00", "completed_at": "2019-01-05T10:00:00Z",
        "fee_paid_vnd": 20000,
    }
    event.update(changes)
    return event


def _records(path: Path, fmt: str = "jsonl", skip: int = 0) -> list[RawRecord | UnreadableRecord]:
    with ExportFile(path, fmt) as export:  # type: ignore[arg-type]
        return list(export.records(skip=skip))


# --- readers ----------------------------------------------------------------------------------

def test_jsonl_records_carry_ordinal_and_line_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": 2}\nnot json\n[1]\n')
    got = _records(path)
    assert [(r.ordinal, r.line) for r in got] == [(1, 1), (2, 3), (3, 4), (4, 5)]
    assert isinstance(got[0], RawRecord)
    assert got[0].fields == {"a": 1}
    assert isinstance(got[2], UnreadableRecord)
    assert got[2].reason.startswith("not JSON")
    assert isinstance(got[3], UnreadableRecord)
    assert got[3].reason == "not a JSON object"
    assert [r.ordinal for r in _records(path, skip=2)] == [3, 4]


def test_gzip_is_recognised_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"  # no .gz, yet compressed
    path.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert [r.fields for r in _records(path) if isinstance(r, RawRecord)] == [{"a": 1},
                                                                               {"a": 2}]


def test_csv_dotted_columns_fill_nested_records(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,b.c,b.d\n1,"two\nlines",3\n\n4,5\n', encoding="utf-8")
    got = _records(path, "csv")
    assert isinstance(got[0], RawRecord)
    assert got[0].fields == {"a": "1", "b": {"c": "two\nlines", "d": "3"}}
    assert got[0].line == 2
    assert isinstance(got[1], UnreadableRecord)
    assert got[1].line == 5
    assert got[1].reason == "2 cells, but the header names 3 columns"


@pytest.mark.parametrize(("header", "reason"), [
    ("a,a", "names column 'a' twice"), ("a,a.b", "clash"), ("a,,b", "empty column name")])
def test_bad_csv_headers_are_refused_in_one_line(tmp_path: Path, header: str, reason: str
                                                 ) -> None:
    path = tmp_path / "x.csv"
    path.write_text(header + "\n1,2\n")
    with pytest.raises(ImportFileError, match=reason):
        _records(path, "csv")


def test_format_from_name_or_option(tmp_path: Path) -> None:
    assert format_of(Path("a.jsonl.gz"), None) == "jsonl"
    assert format_of(Path("a.CSV"), None) == "csv"
    assert format_of(Path("a.data"), "csv") == "csv"
    with pytest.raises(ImportFileError, match="give --format"):
        format_of(Path("a.data"), None)


def test_unreadable_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    path.write_bytes(b"\x1f\x8b broken")
    with pytest.raises(ImportFileError, match="cannot read"):
        _records(path)


# --- conversion -------------------------------------------------------------------------------

def test_json_and_csv_text_give_the_same_datum(codec: Codec) -> None:
    conv = RecordConverter(codec.registry.latest("onestop.dossier_event"))
    from_json = conv.datum(_event(), text=False)
    from_csv = conv.datum({k: ("" if v is None else str(v) if not isinstance(v, dict) else
                               {kk: str(vv) for kk, vv in v.items()})
                           for k, v in _event(previous_status=None).items()}, text=True)
    assert from_json == from_csv
    assert from_json["received_at"] == 1546389780000  # 2019-01-02T00:43Z
    assert from_json["completed_at"] == 1546682400000
    assert from_json["submission_channel"] == "UNKNOWN"  # the default filled in
    assert from_json["applicant"]["phone"] is None


@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"status": "LOST"}, "status", "'LOST' is not one of RECEIVED"),
    ({"receiving_agency_code": "bac lieu"}, "receiving_agency_code", "not an agency code"),
    ({"received_at": "2019-01-02T07:43:00"}, "received_at", "no zone offset"),
    ({"received_at": "yesterday"}, "received_at", "not an ISO 8601 time"),
    ({"fee_paid_vnd": 1.5}, "fee_paid_vnd", "expected a whole number"),
    ({"fee_paid_vnd": True}, "fee_paid_vnd", "expected a whole number"),
    ({"colour": "red"}, "colour", "unknown field"),
    ({"applicant": {"full_name": "A"}}, "applicant.identity_number", "required field"),
    ({"applicant": "A"}, "applicant", "expected an object"),
    ({"note": 7}, "note", "expected a string"),
])
def test_bad_fields_are_named_with_a_reason(codec: Codec, changes: dict[str, Any], field: str,
                                            reason: str) -> None:
    conv = RecordConverter(codec.registry.latest("onestop.dossier_event"))
    with pytest.raises(InvalidFieldError) as caught:
        conv.datum(_event(**changes), text=False)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_missing_required_field(codec: Codec) -> None:
    conv = RecordConverter(codec.registry.latest("onestop.dossier_event"))
    event = _event()
    del event["dossier_code"]
    with pytest.raises(InvalidFieldError, match="dossier_code: required field is missing"):
        conv.datum(event, text=False)


def test_csv_cells_of_arrays_hold_json_and_dates_read(codec: Codec) -> None:
    conv = RecordConverter(codec.registry.latest("ioffice.document"))
    doc = {"document_id": "d1", "direction": "INCOMING", "number_symbol": "1/UBND",
           "issuing_agency_code": "000.00.00.H09",
           "recipient_agency_codes": '["000.00.00.H12"]', "subject": "s",
           "document_type": "CV", "urgency": "NORMAL", "security_level": "NORMAL",
           "signed_date": "2019-01-02", "signer": {"full_name": "A", "position": "B"},
           "due_date": "", "response_for": "", "attachments": "[]",
           "modified_at": "1546389780000"}
    datum = conv.datum(doc, text=True)
    assert datum["recipient_agency_codes"] == ["000.00.00.H12"]
    assert datum["signed_date"] == 17898
    assert datum["due_date"] is None
    assert datum["modified_at"] == 1546389780000
    with pytest.raises(InvalidFieldError, match=r"recipient_agency_codes: 'x' is not an agency"):
        conv.datum({**doc, "recipient_agency_codes": '["x"]'}, text=True)
    with pytest.raises(InvalidFieldError, match="attachments: the cell is not JSON"):
        conv.datum({**doc, "attachments": "[oops"}, text=True)


# --- ids --------------------------------------------------------------------------------------

def test_the_same_record_gets_the_same_id_whatever_its_form(codec: Codec) -> None:
    conv = RecordConverter(codec.registry.latest("onestop.dossier_event"))

    def tx(event: dict[str, Any]) -> str:
        return record_transaction_id("onestop.dossier_event",
                                     conv.canonical(conv.datum(event, text=False)))

    base = tx(_event())
    # A field written at its default is the same record as one that leaves it out.
    assert tx(_event(submission_channel="UNKNOWN", note=None)) == base
    # Another zone offset for the same instant is the same record.
    assert tx(_event(received_at="2019-01-02T00:43:00+00:00")) == base
    assert tx(_event(fee_paid_vnd=20001)) != base
    assert len(base) == 36
    assert base[14] == "5"  # UUID version 5


def test_the_id_is_uuid5_of_the_message_type_and_the_content_hash() -> None:
    canonical = b'{"event_id":"bl-1"}'
    # The connectors' namespace (gateway/connect/context.py), another name inside it.
    namespace = uuid.UUID("6f1c1f0e-3b8e-5d43-9a0e-4c47535020a1")
    expected = uuid.uuid5(namespace, "import:onestop.dossier_event\x00"
                          + hashlib.sha256(canonical).hexdigest())
    assert record_transaction_id("onestop.dossier_event", canonical) == str(expected)


def test_preparer_builds_the_connectors_envelope(codec: Codec) -> None:
    preparer = RecordPreparer(codec, shape_for("onestop.dossier_event"), RUN,
                              file_name="x.jsonl", max_record_bytes=1 << 20)
    now = datetime(2026, 12, 4, tzinfo=UTC)
    out = preparer.prepare(RawRecord(1, 1, _event(), None, text=False), now)
    assert isinstance(out, Prepared)
    env = Envelope.decode(codec, out.value)
    assert env.transaction_id == out.transaction_id
    assert env.correlation_id == env.business_key == "H09.22-190102-0000001"
    assert out.key == b"H09.22-190102-0000001"
    assert (env.source_system, env.connector, env.source_agency_code) == (
        "one-stop", "import", "000.00.00.H12")
    assert env.target_service is None
    assert env.occurred_at == datetime(2019, 1, 5, 10, tzinfo=UTC)  # completed_at
    assert env.decode_payload(codec)["event_id"] == "bl-1"
    bad = preparer.prepare(RawRecord(2, 7, _event(status="X"), b"{...}", text=False), now)
    assert bad == Rejection(7, 2, "status", bad.reason, "{...}")  # type: ignore[union-attr]


def test_message_types_without_a_built_in_shape_need_their_fields() -> None:
    with pytest.raises(ConfigError, match="give --business-key FIELD and --occurred-at"):
        shape_for("plugin.thing")
    shape = shape_for("plugin.thing", business_key="case.id", occurred_at="at")
    assert shape.business_key({"case": {"id": 7}}) == "7"
    assert shape.occurred_at({"at": 0}) == datetime(1970, 1, 1, tzinfo=UTC)


def test_generated_exports_import_cleanly_but_for_the_planted_records(
        codec: Codec, tmp_path: Path) -> None:
    for name in ("e.jsonl", "e.csv.gz"):
        path = tmp_path / name
        summary = write_export(path, "onestop.dossier_event", 300, invalid_share=0.01)
        preparer = RecordPreparer(codec, shape_for("onestop.dossier_event"), RUN,
                                  file_name=name, max_record_bytes=1 << 20)
        now = datetime.now(UTC)
        out = [preparer.prepare(r, now) for r in _records(path, format_of(path, None))]
        rejected = {r.record: r.field for r in out if isinstance(r, Rejection)}
        assert rejected == summary.invalid_fields
    # The same generated records, as JSON Lines and as CSV, share their ids.
    ids: list[set[str]] = []
    for name in ("s.jsonl", "s.csv"):
        path = tmp_path / name
        write_export(path, "onestop.dossier_event", 50)
        preparer = RecordPreparer(codec, shape_for("onestop.dossier_event"), RUN,
                                  file_name=name, max_record_bytes=1 << 20)
        ids.append({p.transaction_id for r in _records(path, format_of(path, None))
                    if isinstance(p := preparer.prepare(r, datetime.now(UTC)), Prepared)})
    assert len(ids[0]) == 50
    assert ids[0] == ids[1]


# --- checkpoint and window --------------------------------------------------------------------

def test_checkpoint_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("{}\n")
    cp = Checkpoint(FileIdentity.of(path), RUN, done_through=5, offsets={0: 3, 2: 9},
                    pending=["a"], published=4, rejected=1, rejected_bytes=120)
    assert Checkpoint.from_json(cp.to_json()) == cp
    assert orjson.loads(cp.to_json())["version"] == 1


async def test_window_advances_only_over_settled_records_in_order(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    cp = Checkpoint(FileIdentity(1, "x"), RUN, offsets={0: 10, 1: 20})
    window = AckWindow(cp, skip={"old-1", "stray"})
    acks = [loop.create_future() for _ in range(3)]
    window.sent(1, "a", acks[0])
    window.rejected(2, 77)
    window.skipped(3, "old-1")
    window.sent(4, "b", acks[1])
    window.sent(5, "c", acks[2])
    acks[1].set_result(DeliveryReport("t", 1, 25))  # acknowledged out of order
    window.advance()
    assert cp.done_through == 0
    acks[0].set_result(DeliveryReport("t", 0, 10))
    window.advance()
    assert (cp.done_through, cp.offsets, cp.published, cp.rejected, cp.skipped) == (
        4, {0: 11, 1: 26}, 2, 1, 1)
    assert cp.rejected_bytes == 77
    # A found id stays pending until passed; one never met stays pending (harmless).
    assert window.freeze().pending == ["stray"]
    acks[2].set_exception(KafkaUnavailableError("gone"))
    with pytest.raises(KafkaUnavailableError):
        window.advance()
    assert cp.done_through == 4
