"""schemathesis against a live gateway (`lgsp run` on the session broker): every answer
to generated requests, valid and invalid, keeps to the gateway's own OpenAPI document
and none is a server error.

Bounded (examples per operation, a seed, one worker) so it takes a minute or two; deselect
with `-m 'not schemathesis'`. Every request carries the gateway's first-start admin token
(`LGSP_TEST_API_TOKEN`, when set, instead): the document itself needs a token.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from devkit.localkafka import free_port
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.auth import admin_token
from tests.support.processes import ServerProcess, loopback_env

pytestmark = [pytest.mark.e2e, pytest.mark.schemathesis]

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
MAX_EXAMPLES = 40
# Checks that judge the API by its document. Left out: the stateful ones that assume a
# resource model the document does not state (use_after_free, ensure_resource_availability)
# and object_level_authorization, which needs two identities.
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance",
          "negative_data_rejection", "missing_required_header", "unsupported_method")


def _auth_headers(state: Path) -> list[str]:
    token = os.environ.get("LGSP_TEST_API_TOKEN", "") or admin_token(state)
    return ["-H", f"Authorization: Bearer {token}"]


async def test_the_admin_api_keeps_to_its_openapi_document(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    port = free_port()
    env = loopback_env(bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
                       state_dir=str(tmp_path / "state"), log_format="json",
                       connector_files__root=str(tmp_path))
    gateway = ServerProcess(["run", "--port", str(port)], env=env,
                            log_path=tmp_path / "gateway.log", ready_prefix="gateway ready")
    await gateway.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            SCHEMATHESIS, "run", f"http://127.0.0.1:{port}/openapi.json",
            "--checks", ",".join(CHECKS), "--max-examples", str(MAX_EXAMPLES),
            "--seed", "16", "--workers", "1", "--phases", "examples,coverage,fuzzing",
            "--request-timeout", "30", "--no-color", *_auth_headers(tmp_path / "state"),
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""}, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await asyncio.wait_for(proc.communicate(), 280)
        report = out.decode(errors="replace")
        assert proc.returncode == 0, report[-20_000:]
        assert gateway.running, await gateway.log_tail()
    finally:
        await gateway.stop()
