"""An AsyncAPI 3.0 document of every Kafka topic the gateway uses, built from the code.

Nothing that can change is written here by hand: topic addresses come from `Topics`, the
Avro schemas are embedded verbatim from `schemas/avro` (every version, with its
CRC-64-AVRO fingerprint, as AsyncAPI's Avro `schemaFormat`), payload message types are
whatever schemas the registry holds, dead-letter header names are the router's own
constants, the router's consumer group follows the settings' rule and the connector
states come from their enum. Only the prose is written here, so a schema change shows up
in the generated document, and the test comparing it with `docs/asyncapi.json` fails
until the document is regenerated (`lgsp schemas asyncapi --out docs/asyncapi.json`).

The output is deterministic: no timestamps, no absolute paths, no environment.
"""

from __future__ import annotations

__all__ = ["ASYNCAPI_VERSION", "AVRO_SCHEMA_FORMAT", "build_asyncapi", "render_asyncapi"]

import json
from typing import Any

from gateway import __version__, headers
from gateway.connect.runtime import CONNECTOR_NAME_PATTERN
from gateway.connect.status import TargetState
from gateway.contracts import ENVELOPE_SCHEMA, SchemaRegistry, SchemaVersion
from gateway.headers import H_TRANSACTION
from gateway.router import outcomes
from gateway.settings import BrokerSettings, RouterSettings, Settings, router_group
from gateway.topics import Topics

ASYNCAPI_VERSION = "3.0.0"
AVRO_SCHEMA_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"

_KAFKA_BINDING = "0.5.0"
_LEDGER_SCHEMA = outcomes.LEDGER_SCHEMA
# The replay tool's audit record: embedded as Avro if the registry ever holds it.
_REPLAY_AUDIT_SCHEMA = "replay.audit"
_AUDIT_SCHEMA = "gateway.audit"
_SCHEMAS_DIR_LABEL = "schemas/avro"
# Single-object encoding has no registered media type; say "bytes" and explain below.
_BINARY = "application/octet-stream"
_JSON = "application/json"
_ENCODING = (
    "Avro single-object encoding: the marker C3 01, the writer schema's 8-byte CRC-64-AVRO "
    "fingerprint (little-endian), then the Avro binary datum. Find the writer schema by "
    "fingerprint (`x-lgsp-fingerprint` on each embedded schema) and read with your own "
    "version: every version here can read data written with every other (`lgsp schemas "
    "check` enforces it)."
)

_DEAD_LETTER_HEADERS: tuple[tuple[str, str, bool], ...] = (
    # (name, description, always present)
    (headers.H_TOPIC, "Topic the failed record was read from: a connector topic or the "
     "replay topic.", True),
    (headers.H_PARTITION, "Partition of the failed record (decimal).", True),
    (headers.H_OFFSET, "Offset of the failed record (decimal).", True),
    (headers.H_CONNECTOR, "Connector that ingested the transaction.", True),
    (headers.H_STAGE, "Where it failed, in Kafka Connect's stage names.", True),
    (headers.H_EXCEPTION, "Fully qualified class of the final error, e.g. "
     "gateway.errors.TransientForwardError.", True),
    (headers.H_MESSAGE, "The final error's one-line message.", True),
    (headers.H_ATTEMPTS, "Delivery attempts made (decimal).", True),
    (headers.H_FIRST_FAILURE, "ISO 8601 time of the first attempt.", True),
    (headers.H_LAST_FAILURE, "ISO 8601 time of the last attempt.", True),
    (headers.H_RETRIABLE, "true if the failure was transient, so a replay can succeed.", True),
    (headers.H_SERVICE, "National service code it was routed to; empty when routing "
     "failed.", True),
    (headers.H_STATUS, "HTTP status of the national side's last answer, when there was "
     "one.", False),
    (H_TRANSACTION, "Transaction id (the connector sets it; the router adds it when "
     "a record lacked it and could be decoded).", False),
)
_STAGES = (outcomes.STAGE_DECODE, outcomes.STAGE_ROUTE, outcomes.STAGE_FORWARD)


def build_asyncapi(registry: SchemaRegistry, topics: Topics | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document (a JSON-ready dict) for these contracts and topic names."""
    topics = topics or Topics()
    payload_types = [n for n in registry.names()
                     if n not in (ENVELOPE_SCHEMA, _LEDGER_SCHEMA, _REPLAY_AUDIT_SCHEMA,
                                  _AUDIT_SCHEMA)]
    envelope = _ref_schema(registry.latest(ENVELOPE_SCHEMA))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:vn:gov:lgsp:gateway",
        "info": _info(topics),
        "servers": _servers(),
        "channels": _channels(topics, payload_types, registry),
        "operations": _operations(topics, payload_types),
        "components": {
            "schemas": _schemas(registry),
            "messages": _messages(registry, payload_types, envelope),
        },
    }


def render_asyncapi(document: dict[str, Any]) -> str:
    """The document as the JSON text checked in at docs/asyncapi.json."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# --- top level ---------------------------------------------------------------------------

def _info(topics: Topics) -> dict[str, Any]:
    return {
        "title": "LGSP gateway: Kafka topics",
        "version": __version__,
        "description": (
            "The topics of the LGSP integration gateway: connectors publish provincial "
            "transactions (iOffice documents, one-stop dossier events, report submissions) "
            "to connector topics; the router forwards each to its national (NDXP) service "
            "and writes the outcome to the ledger, or the record to the dead-letter topic; "
            "`lgsp replay` re-submits dead letters through the replay topic. Addresses use "
            f"the default prefix `{topics.prefix}`; a gateway run with another prefix "
            "(LGSP_TOPIC_PREFIX) uses it instead. " + _ENCODING + " Generated by `lgsp "
            "schemas asyncapi` from schemas/avro; do not edit by hand."
        ),
    }


def _servers() -> dict[str, Any]:
    return {
        "local": {
            "host": f"127.0.0.1:{BrokerSettings().port}",
            "protocol": "kafka",
            "description": "The single-node KRaft broker of `lgsp kafka up` (demo and "
            "development). Production clusters are deployment-specific (deploy/k8s).",
        }
    }


# --- channels ----------------------------------------------------------------------------

def _channels(topics: Topics, payload_types: list[str],
              registry: SchemaRegistry) -> dict[str, Any]:
    source_address = topics.source("{connector}")
    return {
        "source": {
            "address": source_address,
            "title": "Connector topics",
            "description": "One topic per connector, e.g. "
            f"`{topics.source('ioffice')}`. Keyed by business key (order is kept per key); "
            "every value is a transaction envelope whose payload is the message type's "
            "schema. The router subscribes to all of them by pattern "
            f"`{topics.source_pattern}`.",
            "parameters": {"connector": {
                "description": "Connector name (letters, digits, '.', '_', '-').",
                "examples": ["ioffice", "one-stop", "reporting"],
            }},
            "messages": {t: _message_ref(t) for t in payload_types},
        },
        "replay": _channel(topics.replay, "Replay topic",
                           "Dead-lettered transactions re-submitted by `lgsp replay`; the "
                           "router reads them like connector topics.",
                           {"replayedTransaction": _message_ref("ReplayedTransaction")}),
        "deadLetter": _channel(topics.dead_letter, "Dead-letter topic",
                               "Transactions that could not be delivered: the original key "
                               "and value, the original headers, and why it failed in "
                               "Kafka Connect's `__connect.errors.*` headers plus our "
                               "`lgsp.errors.*` headers.",
                               {"deadLetteredTransaction":
                                _message_ref("DeadLetteredTransaction")}),
        "ledger": _channel(topics.ledger, "Ledger",
                           "One outcome record per attempt chain of a transaction, keyed by "
                           "transaction id: what `lgsp trace` reads.",
                           {"transactionOutcome": _message_ref("TransactionOutcome")}),
        "connectorConfigs": _channel(topics.connector_configs, "Connector configs",
                                     "Log-compacted: connector name -> config and target "
                                     "state; a tombstone (null value) deletes the connector.",
                                     {"connectorConfig": _message_ref("ConnectorConfig")},
                                     compacted=topics.connector_configs in topics.compacted),
        "connectorOffsets": _channel(topics.connector_offsets, "Connector positions",
                                     "Log-compacted: connector name -> its source position, "
                                     "written only after Kafka acknowledged the records it "
                                     "covers.",
                                     {"connectorPosition": _message_ref("ConnectorPosition")},
                                     compacted=topics.connector_offsets in topics.compacted),
        "replayAudit": _channel(topics.replay_audit, "Replay audit",
                                "Who replayed what, when, with which filter and result.",
                                {"replayAuditRecord": _message_ref("ReplayAuditRecord")}),
        "auditTrail": _channel(topics.audit, "Audit trail",
                               "Every change through the admin API or the CLI, hash-chained "
                               "and Ed25519-signed (`lgsp audit verify`). Kept forever.",
                               {"auditRecord": _message_ref("AuditRecord")}),
    }


def _channel(address: str, title: str, description: str, messages: dict[str, Any], *,
             compacted: bool = False) -> dict[str, Any]:
    return {
        "address": address,
        "title": title,
        "description": description,
        "messages": messages,
        "bindings": {"kafka": {
            "topicConfiguration": {"cleanup.policy": ["compact" if compacted else "delete"]},
            "bindingVersion": _KAFKA_BINDING,
        }},
    }


# --- operations (the gateway's point of view) --------------------------------------------

def _operations(topics: Topics, payload_types: list[str]) -> dict[str, Any]:
    # The group rule of the settings, without reading the environment: the document
    # describes the defaults, whatever LGSP_* variables the generating shell has.
    defaults = Settings.model_construct(topic_prefix=topics.prefix, router=RouterSettings())
    group = {"type": "string", "enum": [router_group(defaults)]}
    source_messages = [_channel_message("source", t) for t in payload_types]

    def op(action: str, channel: str, summary: str, message: str | None = None, *,
           messages: list[dict[str, str]] | None = None,
           group_id: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": summary,
            "messages": messages if messages is not None else [
                _channel_message(channel, message or "")],
        }
        if group_id is not None:
            body["bindings"] = {"kafka": {"groupId": group_id,
                                          "bindingVersion": _KAFKA_BINDING}}
        return body

    return {
        "publishTransactions": op("send", "source", "Connectors publish each change of a "
                                  "provincial system, acknowledged by Kafka before the "
                                  "source position is stored.", messages=source_messages),
        "routeTransactions": op("receive", "source", "The router forwards every "
                                "transaction to its national service.",
                                messages=source_messages, group_id=group),
        "routeReplays": op("receive", "replay", "The router forwards replayed "
                           "transactions, reconciling first so none is delivered twice.",
                           "replayedTransaction", group_id=group),
        "submitReplays": op("send", "replay", "`lgsp replay` re-submits selected dead "
                            "letters.", "replayedTransaction"),
        "deadLetterTransactions": op("send", "deadLetter", "The router keeps what it could "
                                     "not deliver, with the reason.",
                                     "deadLetteredTransaction"),
        "readDeadLetters": op("receive", "deadLetter", "`lgsp replay` selects dead letters "
                              "by filter.", "deadLetteredTransaction"),
        "recordOutcomes": op("send", "ledger", "The router writes the final outcome of "
                             "every attempt chain.", "transactionOutcome"),
        "storeConnectorConfigs": op("send", "connectorConfigs", "The admin API stores "
                                    "connector configs.", "connectorConfig"),
        "loadConnectorConfigs": op("receive", "connectorConfigs", "The connector runtime "
                                   "loads every config at start.", "connectorConfig"),
        "storeConnectorPositions": op("send", "connectorOffsets", "Connectors store their "
                                      "source position.", "connectorPosition"),
        "loadConnectorPositions": op("receive", "connectorOffsets", "Connectors resume "
                                     "from their stored position.", "connectorPosition"),
        "auditReplays": op("send", "replayAudit", "`lgsp replay` records each replay run.",
                           "replayAuditRecord"),
        "auditChanges": op("send", "auditTrail", "The admin API and the CLI record every "
                           "change, signed by the gateway's key.", "auditRecord"),
    }


# --- components --------------------------------------------------------------------------

def _schemas(registry: SchemaRegistry) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for name in registry.names():
        for sv in registry.versions(name):
            schemas[_schema_key(sv)] = {
                "schemaFormat": AVRO_SCHEMA_FORMAT,
                "schema": sv.raw,
                "x-lgsp-fingerprint": "CRC-64-AVRO:" + sv.fingerprint.hex(),
                "x-lgsp-file": f"{_SCHEMAS_DIR_LABEL}/{sv.name}/{sv.path.name}",
            }
    return schemas


def _messages(registry: SchemaRegistry, payload_types: list[str],
              envelope: dict[str, str]) -> dict[str, Any]:
    messages: dict[str, Any] = {t: _payload_message(registry, t, envelope)
                                for t in payload_types}
    messages["ReplayedTransaction"] = {
        **_envelope_message("ReplayedTransaction", "A dead letter re-submitted by `lgsp "
                            "replay`: the dead-lettered key and value, its headers, and "
                            f"`{headers.H_REPLAY}`. Error headers it still carries are "
                            "ignored by the router.", envelope),
        "headers": _headers_schema([
            (headers.H_REPLAY, "Id of the replay run that re-submitted it.", True),
            (H_TRANSACTION, "Transaction id.", False),
        ]),
    }
    messages["DeadLetteredTransaction"] = {
        **_envelope_message("DeadLetteredTransaction", "The original record, unchanged: "
                            "usually a transaction envelope; a record the router could not "
                            "decode is kept byte for byte.", envelope),
        "headers": _dead_letter_headers(),
    }
    ledger = registry.latest(_LEDGER_SCHEMA)
    messages["TransactionOutcome"] = {
        "name": "TransactionOutcome",
        "title": ledger.raw.get("name", "TransactionOutcome"),
        "summary": _first_sentence(ledger.raw.get("doc", "")),
        "contentType": _BINARY,
        "payload": _ref_schema(ledger),
        "x-lgsp-encoding": "avro-single-object",
        "bindings": _key_binding("Transaction id (UTF-8)."),
    }
    messages["ConnectorConfig"] = _json_message(
        "ConnectorConfig", "A connector's config and target state.", _connector_config(),
        "Connector name (UTF-8); a null value deletes the connector.")
    messages["ConnectorPosition"] = _json_message(
        "ConnectorPosition", "A connector's source position; its fields belong to the "
        "plugin (e.g. a cursor, a file and offset).", {"type": "object"},
        "Connector name (UTF-8).")
    messages["ReplayAuditRecord"] = _replay_audit(registry)
    if _AUDIT_SCHEMA in registry.names():
        audit = registry.latest(_AUDIT_SCHEMA)
        messages["AuditRecord"] = {
            "name": "AuditRecord", "summary": _first_sentence(audit.raw.get("doc", "")),
            "contentType": _BINARY, "payload": _ref_schema(audit),
            "x-lgsp-encoding": "avro-single-object",
            "bindings": _key_binding("Writer (chain) id (UTF-8)."),
        }
    else:
        messages["AuditRecord"] = _json_message(
            "AuditRecord", "A signed record of one change.", {"type": "object"},
            "Writer (chain) id (UTF-8).")
    return messages


def _payload_message(registry: SchemaRegistry, message_type: str,
                     envelope: dict[str, str]) -> dict[str, Any]:
    versions = registry.versions(message_type)
    latest = versions[-1].raw
    message = _envelope_message(
        message_type,
        f"{_first_sentence(latest.get('doc', ''))} Carried as a transaction envelope with "
        f"message_type `{message_type}`; its payload field holds this schema's datum "
        "(single-object encoded).", envelope)
    message["title"] = latest.get("name", message_type)
    message["headers"] = _headers_schema([
        (H_TRANSACTION, "Transaction id, also the NDXP idempotency key.", True)])
    message["x-lgsp-payload"] = {
        "messageType": message_type,
        "schemas": [_ref_schema(sv) for sv in versions],
    }
    return message


def _envelope_message(name: str, summary: str, envelope: dict[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "summary": summary,
        "contentType": _BINARY,
        "payload": envelope,
        "correlationId": {
            "description": "Ties related transactions together, e.g. every event of one "
            "dossier.",
            "location": "$message.payload#/correlation_id",
        },
        "x-lgsp-encoding": "avro-single-object",
        "bindings": _key_binding("Business key (UTF-8), e.g. a dossier code: order is kept "
                                 "per key."),
    }


def _json_message(name: str, summary: str, payload: dict[str, Any],
                  key: str) -> dict[str, Any]:
    return {"name": name, "summary": summary, "contentType": _JSON, "payload": payload,
            "bindings": _key_binding(key)}


def _replay_audit(registry: SchemaRegistry) -> dict[str, Any]:
    if _REPLAY_AUDIT_SCHEMA in registry.names():
        schema = registry.latest(_REPLAY_AUDIT_SCHEMA)
        return {"name": "ReplayAuditRecord", "summary": _first_sentence(
                    schema.raw.get("doc", "")),
                "contentType": _BINARY, "payload": _ref_schema(schema),
                "x-lgsp-encoding": "avro-single-object",
                "bindings": _key_binding("Replay run id (UTF-8).")}
    return _json_message("ReplayAuditRecord", "One record per replay run: who, when, which "
                         "filter, how many re-submitted. Its fields belong to `lgsp replay`.",
                         {"type": "object"}, "Replay run id (UTF-8).")


def _connector_config() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["name", "config", "target_state"],
        "properties": {
            "name": {"type": "string", "pattern": CONNECTOR_NAME_PATTERN},
            "config": {"type": "object", "description": "Kafka Connect style flat config, "
                       "e.g. {\"connector.class\": \"ioffice\", \"api.url\": ...}; secrets "
                       "included, so restrict who may read this topic.",
                       "additionalProperties": True},
            "target_state": {"type": "string", "enum": [s.value for s in TargetState]},
        },
    }


def _dead_letter_headers() -> dict[str, Any]:
    schema = _headers_schema(list(_DEAD_LETTER_HEADERS))
    schema["properties"][headers.H_STAGE]["enum"] = list(_STAGES)
    schema["properties"][headers.H_RETRIABLE]["enum"] = ["true", "false"]
    schema["description"] = ("The original record's headers (minus stale error headers of "
                             "an earlier failure) plus these.")
    return schema


def _headers_schema(headers: list[tuple[str, str, bool]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": "string", "description": text}
                       for name, text, _ in headers},
        "required": [name for name, _, always in headers if always],
    }


def _key_binding(description: str) -> dict[str, Any]:
    return {"kafka": {"key": {"type": "string", "description": description},
                      "schemaIdLocation": "payload", "bindingVersion": _KAFKA_BINDING}}


# --- small helpers -----------------------------------------------------------------------

def _schema_key(sv: SchemaVersion) -> str:
    return f"{sv.name}.v{sv.version}"


def _ref_schema(sv: SchemaVersion) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{_schema_key(sv)}"}


def _message_ref(message_id: str) -> dict[str, str]:
    return {"$ref": f"#/components/messages/{message_id}"}


def _channel_message(channel: str, message_id: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{channel}/messages/{message_id}"}


def _first_sentence(text: str) -> str:
    head, sep, _ = text.partition(". ")
    return head + "." if sep else text
