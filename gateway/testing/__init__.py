"""The connector contract kit: test a connector plugin the way the gateway runs it.

Installed with the gateway and loaded by pytest through the `pytest11` entry point
(`gateway.testing.plugin`), so any project with the gateway, pytest and pytest-asyncio
has it:

- a broker: `lgsp_bootstrap` uses `--lgsp-bootstrap-servers` / `LGSP_TEST_BOOTSTRAP_SERVERS`
  or starts the local KRaft broker (no Docker; needs lgsp-devkit);
- `lgsp_rig`: run a plugin with the runtime's real context, store and producer;
- harnesses: a plugin registers its fake source system under `lgsp.harnesses`
  (`gateway.testing.harness.Harness`);
- the contract suite: subclass `gateway.testing.contract.ConnectorContract`.
"""

from gateway.testing.harness import HARNESS_ENTRY_POINT_GROUP, Harness, load_harness
from gateway.testing.rig import Published, Rig, Running
from gateway.testing.waiting import wait_for

__all__ = [
    "HARNESS_ENTRY_POINT_GROUP",
    "Harness",
    "Published",
    "Rig",
    "Running",
    "load_harness",
    "wait_for",
]
