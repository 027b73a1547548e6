"""The REST connector's config is checked against the message type's schema; records map."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.rest_poll import RestPollConfig
from connectors.rest_poll.mapping import MappingError
from devkit.simulators.json_list import portal_connector_config
from gateway.settings import problems_from

GOOD = portal_connector_config("http://127.0.0.1:9/api/v2/submissions", "000.00.00.H12")
RECORD: dict[str, Any] = {
    "id": "RP-1", "seq": 7, "form": "BC-KTXH", "commune": "000.00.31.H12",
    "period": {"kind": "MONTH", "year": 2025, "number": 3},
    "sent_at": "2025-03-31T10:00:00+07:00",
    "indicators": [{"code": "DAN_SO", "value": 10.0, "unit": "người"}],
}


def _refused(**changes: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        RestPollConfig.model_validate({**GOOD, **changes})
    return [(p.field, p.reason) for p in problems_from(caught.value)]


def test_a_record_maps_to_the_message_types_fields_with_conversions() -> None:
    config = RestPollConfig.model_validate(GOOD)
    payload = config.field_mapping.apply(RECORD)
    assert payload["report_code"] == "BC-KTXH"
    assert payload["submitted_at"] == datetime(2025, 3, 31, 3, 0, tzinfo=UTC)
    assert payload["source_file"] == "RP-1"
    assert payload["rows"] == RECORD["indicators"]


def test_constants_and_json_text_mappings_are_accepted() -> None:
    mapping = {**GOOD["payload.mapping"], "source_file": {"const": "portal"}}
    config = RestPollConfig.model_validate({**GOOD, "payload.mapping": mapping})
    assert config.field_mapping.apply(RECORD)["source_file"] == "portal"
    as_text = RestPollConfig.model_validate(
        {**GOOD, "payload.mapping": '{"report_code": "form", "period": "period", '
         '"reporting_unit_code": "commune", "submitted_at": "sent_at", '
         '"rows": "indicators", "source_file": "id"}'})
    assert as_text.field_mapping.apply(RECORD)["reporting_unit_code"] == "000.00.31.H12"


def test_a_mapping_that_does_not_fit_the_schema_is_refused_naming_the_key() -> None:
    [(key, reason)] = _refused(**{"payload.mapping": {**GOOD["payload.mapping"], "x": "id"}})
    assert key == "payload.mapping"
    assert "'x' not a field of reporting.report_submission" in reason
    partial = {k: v for k, v in GOOD["payload.mapping"].items() if k != "rows"}
    [(key, reason)] = _refused(**{"payload.mapping": partial})
    assert (key, "field rows of reporting.report_submission has no default: map it" in reason
            ) == ("payload.mapping", True)
    [(key, reason)] = _refused(**{"message.type": "radio.licence"})
    assert key == "message.type" and "no schema 'radio.licence'" in reason


def test_a_record_without_a_mapped_value_names_the_field_and_path() -> None:
    config = RestPollConfig.model_validate(GOOD)
    with pytest.raises(MappingError, match="field report_code: the record has no value at 'form'"):
        config.field_mapping.apply({k: v for k, v in RECORD.items() if k != "form"})
    with pytest.raises(MappingError, match="field submitted_at: 'yesterday' is not a timestamp"):
        config.field_mapping.apply({**RECORD, "sent_at": "yesterday"})


def test_the_api_token_is_a_secret_key() -> None:
    # Shown as [hidden] everywhere, sealed at rest, ${env:..} / ${file:..} references allowed.
    assert RestPollConfig.secret_keys() == frozenset({"api.token"})
