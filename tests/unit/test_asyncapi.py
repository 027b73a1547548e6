"""The AsyncAPI document: generated from the contracts, checked in, and never stale."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.contracts import SchemaRegistry
from gateway.docs import ASYNCAPI_VERSION, AVRO_SCHEMA_FORMAT, build_asyncapi, render_asyncapi
from gateway.errors import TransientForwardError
from gateway.kafka import Record
from gateway.router.outcomes import (
    STAGE_FORWARD,
    Attempt,
    Failure,
    Outcome,
    dead_letter_headers,
)
from gateway.topics import Topics
from tests.support.cli import lgsp

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas" / "avro"
CHECKED_IN = REPO / "docs" / "asyncapi.json"
REGENERATE = "lgsp schemas asyncapi --out docs/asyncapi.json"
# Component keys must match this (AsyncAPI 3.0, Components Object).
_COMPONENT_KEY = re.compile(r"^[a-zA-Z0-9\.\-_]+$")
# Schemas that are not payloads of connector topics.
_NOT_PAYLOADS = {"envelope", "ledger.outcome", "replay.audit", "gateway.audit"}


@pytest.fixture(scope="module")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(SCHEMAS)


@pytest.fixture(scope="module")
def document(registry: SchemaRegistry) -> dict[str, Any]:
    return build_asyncapi(registry)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and key in node, f"{ref} does not resolve at {key!r}"
        node = node[key]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in _refs(item)]
    return []


def test_checked_in_document_is_the_generated_one(registry: SchemaRegistry) -> None:
    expected = render_asyncapi(build_asyncapi(registry))
    assert CHECKED_IN.is_file(), f"docs/asyncapi.json is missing: run `{REGENERATE}`"
    assert CHECKED_IN.read_text(encoding="utf-8") == expected, (
        f"docs/asyncapi.json is stale (schemas/avro or the topics changed): run `{REGENERATE}`")


def test_a_schema_change_changes_the_document(tmp_path: Path) -> None:
    schemas = tmp_path / "avro"
    shutil.copytree(SCHEMAS, schemas)
    permit = {"type": "record", "name": "PermitApplication", "namespace": "vn.gov.lgsp.permits",
              "doc": "A building permit application. Made up for this test.",
              "fields": [{"name": "application_id", "type": "string"}]}
    (schemas / "permits.application").mkdir()
    (schemas / "permits.application" / "v1.avsc").write_text(json.dumps(permit))
    changed = build_asyncapi(SchemaRegistry.load(schemas))
    assert render_asyncapi(changed) != CHECKED_IN.read_text(encoding="utf-8")
    assert "permits.application" in changed["channels"]["source"]["messages"]
    assert changed["components"]["schemas"]["permits.application.v1"]["schema"] == permit


def test_document_shape(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == ASYNCAPI_VERSION == "3.0.0"
    assert document["info"]["title"] and document["info"]["version"]
    assert document["servers"]["local"]["protocol"] == "kafka"
    for section in ("schemas", "messages"):
        for key in document["components"][section]:
            assert _COMPONENT_KEY.match(key), key
    for operation in document["operations"].values():
        assert operation["action"] in ("send", "receive")


def test_every_topic_has_a_channel(document: dict[str, Any]) -> None:
    topics = Topics()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {topics.source("{connector}"), *topics.system}
    source = document["channels"]["source"]
    assert set(source["parameters"]) == set(re.findall(r"\{(\w+)\}", source["address"]))
    for name, channel in document["channels"].items():
        policy = channel.get("bindings", {}).get("kafka", {}).get(
            "topicConfiguration", {}).get("cleanup.policy")
        if channel["address"] in topics.compacted:
            assert policy == ["compact"], name


def test_every_schema_version_is_embedded_as_avro(
    document: dict[str, Any], registry: SchemaRegistry
) -> None:
    embedded = document["components"]["schemas"]
    keys = set()
    for name in registry.names():
        for version in registry.versions(name):
            key = f"{name}.v{version.version}"
            keys.add(key)
            schema = embedded[key]
            assert schema["schemaFormat"] == AVRO_SCHEMA_FORMAT
            assert AVRO_SCHEMA_FORMAT == "application/vnd.apache.avro+json;version=1.9.0"
            assert schema["schema"] == json.loads(version.path.read_text(encoding="utf-8"))
            assert schema["x-lgsp-fingerprint"] == "CRC-64-AVRO:" + version.fingerprint.hex()
    assert set(embedded) == keys


def test_payload_messages_follow_the_registry(
    document: dict[str, Any], registry: SchemaRegistry
) -> None:
    payloads = set(registry.names()) - _NOT_PAYLOADS
    assert set(document["channels"]["source"]["messages"]) == payloads
    envelope = f"#/components/schemas/envelope.v{registry.latest('envelope').version}"
    for name in payloads:
        message = document["components"]["messages"][name]
        assert message["payload"] == {"$ref": envelope}
        listed = [ref["$ref"] for ref in message["x-lgsp-payload"]["schemas"]]
        assert listed == [f"#/components/schemas/{name}.v{v.version}"
                          for v in registry.versions(name)]
    ledger = document["components"]["messages"]["TransactionOutcome"]["payload"]["$ref"]
    latest = registry.latest("ledger.outcome").version
    assert ledger == f"#/components/schemas/ledger.outcome.v{latest}"


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = _refs(document)
    assert refs
    for ref in refs:
        _resolve(document, ref)


def test_operations_only_use_messages_of_their_channel(document: dict[str, Any]) -> None:
    for name, operation in document["operations"].items():
        channel = operation["channel"]["$ref"]
        assert channel.startswith("#/channels/"), name
        assert operation["messages"], name
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel + "/messages/"), (name, message)
            _resolve(document, message["$ref"])


def test_dead_letter_headers_are_the_routers(document: dict[str, Any]) -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    outcome = Outcome(
        record=Record("lgsp.src.ioffice", 1, 42, b"doc-1", b"\xc3\x01", (), 0),
        connector="ioffice", transaction_id="3f1b", service="QG.VBDT.GUINHAN",
        delivered=False, attempts=[Attempt(at, 12.0, "TransientForwardError", 503, "down")],
        failure=Failure(STAGE_FORWARD, TransientForwardError("down", status=503), True, 503),
    )
    produced = {name for name, _ in dead_letter_headers(outcome)}
    headers = document["components"]["messages"]["DeadLetteredTransaction"]["headers"]
    assert produced <= set(headers["properties"]), produced - set(headers["properties"])
    assert set(headers["required"]) <= produced
    # Kafka Connect's names, so existing DLQ viewers read them.
    assert {"__connect.errors.topic", "__connect.errors.partition", "__connect.errors.offset",
            "__connect.errors.connector.name", "__connect.errors.stage",
            "__connect.errors.exception.class.name",
            "__connect.errors.exception.message"} <= set(headers["required"])


def test_output_is_deterministic_and_machine_independent(registry: SchemaRegistry) -> None:
    first = render_asyncapi(build_asyncapi(registry))
    assert first == render_asyncapi(build_asyncapi(SchemaRegistry.load(SCHEMAS)))
    assert str(REPO) not in first
    assert first.endswith("}\n")


def test_cli_writes_and_prints_the_document(tmp_path: Path) -> None:
    # As a user runs it: a separate process (the CLI configures logging process-wide).
    out = tmp_path / "asyncapi.json"
    written = lgsp("schemas", "asyncapi", "--dir", str(SCHEMAS), "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert out.read_text(encoding="utf-8") == CHECKED_IN.read_text(encoding="utf-8")
    assert written.stdout.startswith(f"wrote {out}: AsyncAPI 3.0.0, 8 channels")
    printed = lgsp("schemas", "asyncapi", "--dir", str(SCHEMAS))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == CHECKED_IN.read_text(encoding="utf-8")
    missing = lgsp("schemas", "asyncapi", "--dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("lgsp: error: schema directory")
    assert "Traceback" not in missing.stderr
    unwritable = lgsp("schemas", "asyncapi", "--out", str(tmp_path / "no" / "such.json"))
    assert unwritable.returncode == 1
    assert unwritable.stderr.strip() == (
        f"lgsp: error: cannot write {tmp_path / 'no' / 'such.json'}: No such file or directory")
