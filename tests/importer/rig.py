"""What the import tests share: the `lgsp import` command run as a user runs it, and the
topic it writes, read back."""

from __future__ import annotations

import asyncio
import re
import signal
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.child_process import die_with_parent
from gateway.headers import H_TRANSACTION
from gateway.kafka import TopicReader, read_topic
from gateway.topics import Topics
from tests.support.cli import LGSP
from tests.support.processes import Finished, loopback_env, run_lgsp

TYPE = "onestop.dossier_event"
SUMMARY = re.compile(
    r"^(?P<path>\S+): published (?P<published>\d+), rejected (?P<rejected>\d+)"
    r"(?:, skipped (?P<skipped>\d+) already on the topic)?"
    r"(?:, resumed after record (?P<resumed>\d+))? in [\d.]+s \([\d,]+ records/s\)")


@dataclass
class ImportRig:
    """The `lgsp import` command on the session broker, writing this test's own topic."""

    bootstrap: str
    topics: Topics
    env: dict[str, str]

    @classmethod
    def create(cls, bootstrap: str, topics: Topics, state_dir: Path, *,
               auth_mode_none: bool = True) -> ImportRig:
        settings = {"bootstrap_servers": bootstrap, "topic_prefix": topics.prefix,
                    "state_dir": str(state_dir), "log_format": "json",
                    "log_level": "WARNING"}
        if auth_mode_none:
            settings["auth__mode"] = "none"
        env = loopback_env(None, **settings)
        env.pop("LGSP_TOKEN", None)
        return cls(bootstrap, topics, env)

    @property
    def topic(self) -> str:
        """The import's source topic (connector `import`)."""
        return self.topics.source("import")

    async def lgsp(self, *args: str, timeout_s: float = 300) -> Finished:
        """Run `lgsp ARGS...` to completion."""
        return await run_lgsp(*args, env=self.env, timeout_s=timeout_s)

    async def spawn(self, *args: str, env: Mapping[str, str] | None = None
                    ) -> asyncio.subprocess.Process:
        """Start `lgsp ARGS...` in the background (dies with the test process)."""
        return await asyncio.create_subprocess_exec(
            LGSP, *args, env={**self.env, **(env or {})}, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent(signal.SIGKILL))

    async def on_topic(self) -> Counter[str]:
        """How many times each transaction id is on the import topic."""
        return Counter((r.header(H_TRANSACTION) or b"").decode()
                       for r in await read_topic(self.bootstrap, self.topic))

    async def topic_size(self) -> int:
        """Records on the import topic (0 before it exists)."""
        reader = TopicReader(self.bootstrap)
        await reader.start()
        try:
            return sum((await reader.end_offsets([self.topic])).values())
        finally:
            await reader.stop()


def summary_of(out: str) -> dict[str, int]:
    """The numbers of the (last) summary line of `lgsp import`."""
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines, "no summary line"
    match = SUMMARY.match(lines[-1])
    assert match is not None, out
    return {k: int(v or 0) for k, v in match.groupdict().items() if k != "path"}


def only_error_line(finished: Finished) -> str:
    """The one line on stderr (no traceback), which starts `lgsp...: error:`."""
    lines = [ln for ln in finished.err.splitlines() if ln.strip()]
    assert len(lines) == 1, finished.err
    assert lines[0].startswith("lgsp"), finished.err
    assert ": error: " in lines[0], finished.err
    return lines[0]
