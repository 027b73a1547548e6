"""The Avro contracts: round trips, evolution, typed errors, and no drift between models."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest

from gateway.contracts import (
    Codec,
    Envelope,
    EnvelopeModel,
    SchemaRegistry,
    is_agency_code,
    new_transaction_id,
)
from gateway.errors import MalformedRecordError, SchemaMismatchError, UnknownSchemaError
from gateway.logs import SENSITIVE_KEYS
from gateway.settings import Settings
from tests.support.contracts import dossier_event, official_document

SCHEMAS = Settings().schemas_dir


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(SchemaRegistry.load(SCHEMAS))


def _envelope(codec: Codec, payload: bytes, message_type: str, version: int) -> Envelope:
    now = datetime(2026, 11, 3, 1, 2, 3, 456000, tzinfo=UTC)
    return Envelope(
        transaction_id=new_transaction_id(), correlation_id="corr-1", source_system="one-stop",
        connector="one-stop", source_agency_code="000.00.00.H12", target_service=None,
        message_type=message_type, schema_version=version, business_key="H12-1",
        occurred_at=now, ingested_at=now, payload=payload, headers={"trace": "x"},
    )


def test_envelope_round_trip_keeps_every_field(codec: Codec) -> None:
    schema = codec.registry.latest("ioffice.document")
    env = _envelope(codec, codec.encode(schema, official_document()), "ioffice.document", 1)
    data = env.encode(codec)
    assert data[:2] == b"\xc3\x01"
    back = Envelope.decode(codec, data)
    assert back == env
    assert back.decode_payload(codec)["number_symbol"] == "1/UBND-VP"


def test_v1_data_reads_with_v2_reader_and_v2_data_with_v1_reader(codec: Codec) -> None:
    v1 = codec.registry.get("onestop.dossier_event", 1)
    v2 = codec.registry.get("onestop.dossier_event", 2)
    old = codec.encode(v1, dossier_event(1))
    read_new = codec.decode(old, reader=v2)
    assert read_new["submission_channel"] == "UNKNOWN"  # v2's default fills the gap
    assert read_new["dossier_code"] == "H12.22-260101-000001"
    new = codec.encode(v2, {**dossier_event(2), "submission_channel": "ONLINE"})
    read_old = codec.decode(new, reader=v1)
    assert "submission_channel" not in read_old
    assert read_old["status"] == "RECEIVED"


def test_garbage_bytes_raise_malformed_record_error(codec: Codec) -> None:
    with pytest.raises(MalformedRecordError, match="bad marker"):
        Envelope.decode(codec, b"this is not avro at all")
    with pytest.raises(MalformedRecordError, match="too short"):
        Envelope.decode(codec, b"\xc3\x01\x00")


def test_unknown_fingerprint_raises_unknown_schema_error(codec: Codec) -> None:
    with pytest.raises(UnknownSchemaError, match="unknown writer schema fingerprint 0102"):
        codec.decode(b"\xc3\x01\x01\x02\x03\x04\x05\x06\x07\x08rest")


def test_truncated_datum_and_wrong_fields_raise_schema_mismatch(codec: Codec) -> None:
    schema = codec.registry.latest("onestop.dossier_event")
    good = codec.encode(schema, dossier_event())
    with pytest.raises(SchemaMismatchError, match=r"do not decode as onestop\.dossier_event"):
        codec.decode(good[:25])
    bad = {**dossier_event(), "fee_paid_vnd": "fifty thousand"}
    with pytest.raises(SchemaMismatchError, match="fee_paid_vnd"):
        codec.encode(schema, bad)


def test_payload_of_the_wrong_type_is_refused(codec: Codec) -> None:
    schema = codec.registry.latest("onestop.dossier_event")
    env = _envelope(codec, codec.encode(schema, dossier_event()), "ioffice.document", 1)
    with pytest.raises(SchemaMismatchError, match=r"envelope says ioffice\.document"):
        env.decode_payload(codec)


def _avro_python_type(avro_type: Any) -> tuple[str, bool]:
    """(base type, nullable) of an Avro field type."""
    if isinstance(avro_type, list):
        branches = [b for b in avro_type if b != "null"]
        return _avro_python_type(branches[0])[0], "null" in avro_type
    if isinstance(avro_type, dict):
        if avro_type.get("logicalType") == "timestamp-millis":
            return "datetime", False
        return str(avro_type["type"]), False
    return str(avro_type), False


_PY_FOR_AVRO = {"string": str, "int": int, "bytes": bytes, "datetime": datetime, "map": dict}


def test_envelope_dataclass_and_pydantic_model_match_the_avro_schema() -> None:
    raw = json.loads((SCHEMAS / "envelope" / "v1.avsc").read_text())
    avro_fields = {f["name"]: _avro_python_type(f["type"]) for f in raw["fields"]}
    dc_fields = {f.name: f.type for f in dataclasses.fields(Envelope)}
    model_fields = EnvelopeModel.model_fields
    assert set(avro_fields) == set(dc_fields) == set(model_fields)
    hints = {name: f.annotation for name, f in model_fields.items()}
    for name, (base, nullable) in avro_fields.items():
        expected = _PY_FOR_AVRO[base]
        annotation = hints[name]
        args = get_args(annotation)
        origin = get_origin(annotation)
        if nullable:
            assert type(None) in args and expected in args, name
            assert "None" in str(dc_fields[name]), name
        elif origin is dict:
            assert expected is dict, name
        else:
            assert annotation is expected or expected in args, f"{name}: {annotation}"


def test_every_personal_data_field_is_masked_in_logs() -> None:
    marked = SchemaRegistry.load(SCHEMAS).field_names_marked("pii")
    assert marked, "the dossier applicant's identity number must be marked pii"
    assert marked <= SENSITIVE_KEYS


@pytest.mark.parametrize(
    ("code", "ok"),
    [("000.00.00.H41", True), ("000.00.04.G14", True), ("H41", False),
     ("000.00.00.h41", False), ("000..00.H41", False), ("0" * 30 + ".H4112", False)],
)
def test_agency_codes_follow_the_documented_pattern(code: str, ok: bool) -> None:
    assert is_agency_code(code) is ok


def test_every_schema_file_parses_and_names_match_folders(tmp_path: Path) -> None:
    registry = SchemaRegistry.load(SCHEMAS)
    assert {"envelope", "ioffice.document", "onestop.dossier_event",
            "reporting.report_submission", "ledger.outcome"} <= set(registry.names())
    assert [v.version for v in registry.versions("onestop.dossier_event")] == [1, 2]
