"""The end of every scenario: settle, print the reckoning, check what a user would check."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from tests.faults.rig import FaultRig
from tests.support.processes import run_lgsp
from tests.support.reckoning import Reckoning
from tests.support.traffic import CONNECTORS, Traffic

Report = Callable[[str], None]

class DoubledAtEndpointError(AssertionError):
    """The national side received a transaction it already had (duplicates_at_stub > 0).

    Its own class, so a scenario can tell "sent twice" apart from "lost" in its report.
    """


async def conclude(
    rig: FaultRig,
    traffic: Traffic,
    report: Report,
    *,
    label: str | None = None,
    dead_letters_expected: set[str] | None = None,
    settle_s: float = 90.0,
    stop_gateway: bool = True,
    check_doubles: bool = True,
) -> Reckoning:
    """Settle, print the reckoning line, and check everything a user would check.

    Order matters for known-failing scenarios: every other check runs first, the doubled
    deliveries last, so a loss is never hidden behind an expected duplicate.
    """
    settled = await rig.settle(traffic, timeout_s=settle_s)
    reckoning = dataclasses.replace(settled, scenario=label or rig.scenario)
    report(reckoning.line())
    accounts = rig.accounts
    problems = traffic.source_problems()
    assert not problems, problems
    assert reckoning.lost == 0, f"{await rig.diagnosis()}\n{traffic.describe()}"
    assert not accounts.phantom_ids(), "the national side has transactions nobody sent"
    missing_reason = accounts.dead_letters_without_reason()
    assert not missing_reason, f"dead letters without a reason: {missing_reason[:3]}"
    if dead_letters_expected is not None:
        dead = accounts.dead_letter_ids - accounts.delivered_keys
        assert dead == dead_letters_expected, (
            f"dead-lettered but not expected: {sorted(dead - dead_letters_expected)[:5]} "
            f"({len(dead - dead_letters_expected)}), expected but not dead-lettered: "
            f"{sorted(dead_letters_expected - dead)[:5]} "
            f"({len(dead_letters_expected - dead)})")
    for name in CONNECTORS:
        assert await rig.connector_state(name) == "RUNNING", f"connector {name} is not running"
    if stop_gateway:
        # A gateway that settled must also stop cleanly and promptly on SIGTERM.
        code = await rig.gateway.stop(timeout_s=30)
        assert code == 0, f"lgsp run exited {code} on SIGTERM\n{await rig.gateway.log_tail()}"
    if check_doubles and reckoning.duplicates_at_stub:
        raise DoubledAtEndpointError(
            f"the national side got {reckoning.duplicates_at_stub} requests for transactions "
            f"it already had; {await rig.diagnosis()}\n{traffic.describe()}")
    return reckoning


async def replay_dead_letters(
    rig: FaultRig,
    error_classes: Sequence[str] = ("TransientForwardError", "CircuitOpenError"),
) -> None:
    """`lgsp replay --yes` the dead letters of those error classes, as provincial IT would
    once the national side is back; it must report every one delivered (exit 0)."""
    args = ["replay", "--yes", "--operator", "fault-suite", "--rate", "5000",
            "--wait-s", "90"]
    for name in error_classes:
        args += ["--error-class", name]
    done = await run_lgsp(*args, env=rig.cli_env, timeout_s=150)
    assert done.code == 0, (f"lgsp replay exited {done.code}\nstdout: {done.out[-2000:]}\n"
                            f"stderr: {done.err[-2000:]}")
