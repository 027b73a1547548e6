"""An interrupted replay (Ctrl-C, then SIGKILL) resumes where it stopped: nothing twice."""

from __future__ import annotations

import re
import signal
from collections import Counter

import orjson
import pytest

from tests.replay.rig import Rig
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

N = 24


async def test_interrupted_and_killed_replays_resume_without_duplicates(rig: Rig) -> None:
    envelopes = await rig.dead_lettered(N)
    ids = {e.transaction_id for e in envelopes}
    await rig.national_side(down=False)

    # Ctrl-C a third of the way: the run says how far it got and audits INTERRUPTED.
    slow = ("replay", "--yes", "--rate", "8/s", "--operator", "le.van.cuong")
    proc = await rig.spawn(*slow)
    await wait_for(rig.submissions, lambda s: len(s) >= N // 3, timeout_s=30,
                   interval_s=0.05, what="a third re-submitted")
    proc.send_signal(signal.SIGINT)
    out, err = await proc.communicate()
    assert proc.returncode == 130, err.decode()
    interrupted = re.search(r"interrupted after re-submitting (\d+) of 24; run the same "
                            r"command again to resume", out.decode())
    assert interrupted is not None, out.decode()
    assert err.decode().strip().splitlines()[-1] == "lgsp: interrupted"
    after_sigint = len(await rig.submissions())
    assert int(interrupted.group(1)) <= after_sigint < N

    # SIGKILL two thirds of the way: no chance to clean up or audit the end.
    proc = await rig.spawn(*slow)
    await wait_for(rig.submissions, lambda s: len(s) >= 2 * N // 3, timeout_s=30,
                   interval_s=0.05, what="two thirds re-submitted")
    proc.kill()
    await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    after_kill = len(await rig.submissions())
    assert after_sigint < after_kill < N

    # Run again: only the rest is sent; the earlier ones are delivered or on their way.
    rest = await rig.lgsp("replay", "--yes", "--rate", "200/s", "--wait-s", "30",
                          "--operator", "le.van.cuong")
    assert rest.code == 0, rest.err
    left = N - after_kill
    summary = re.fullmatch(
        rf"replay rp-\S+: replayed {left}, delivered {left}, failed again 0, skipped as "
        r"already delivered (\d+)(?:, skipped as already submitted (\d+))?",
        rest.out.strip().splitlines()[-1])
    assert summary is not None, rest.out
    assert int(summary.group(1)) + int(summary.group(2) or 0) == after_kill

    assert Counter(await rig.submissions()) == Counter(dict.fromkeys(ids, 1))
    stats = await wait_for(rig.stats, lambda s: s["unique"] == N, timeout_s=30,
                           what="all delivered")
    assert stats["duplicates"] == 0
    assert stats["received"] == N

    history = orjson.loads((await rig.lgsp("replay", "history", "--json")).out)
    assert [r["status"] for r in history] == ["COMPLETED", "STARTED", "INTERRUPTED"]
    assert history[2]["message"].startswith("interrupted after re-submitting ")
    assert history[1]["selected"] == N - after_sigint  # the killed run: its plan, no end
