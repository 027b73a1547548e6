"""Logs never carry secrets or citizen identity numbers."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr

import structlog

from gateway.logs import configure_logging, get_logger, reset_logging


def test_json_logs_mask_secrets_and_identity_numbers() -> None:
    buffer = io.StringIO()
    with redirect_stderr(buffer):
        configure_logging("json", "INFO")
        # PrintLoggerFactory binds sys.stderr at configure time, so configure inside.
        with structlog.contextvars.bound_contextvars(transaction_id="tx-1", correlation_id="c-1"):
            get_logger("test").info(
                "dossier received for 079203001234", client_secret="s3cret",
                applicant={"full_name": "Nguyen Van An", "identity_number": "079203001234"},
            )
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    reset_logging()
    text = json.dumps(line)
    assert "079203001234" not in text
    assert "s3cret" not in text
    assert line["transaction_id"] == "tx-1"
    assert line["correlation_id"] == "c-1"
    assert line["applicant"]["full_name"] == "Nguyen Van An"
