"""A private pipeline for replay tests: a real stub, a real gateway (router + replay API)
in-process, the session broker, and the `lgsp` command run as a user runs it."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from devkit.stub import StubServer
from gateway.app import Gateway
from gateway.contracts import Codec, Envelope
from gateway.headers import H_TRANSACTION
from gateway.kafka import Producer, Record, read_topic
from gateway.topics import Topics
from tests.support.auth import bearer
from tests.support.cli import LGSP
from tests.support.pipeline import dossier_envelope, publish, set_faults, stub_stats
from tests.support.waiting import wait_for


@dataclass(frozen=True, slots=True)
class Result:
    """What a finished `lgsp` command left behind."""

    code: int
    out: str
    err: str

    def one_line_error(self) -> str:
        """The only line on stderr, which must be an `lgsp...: error:` line."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        assert len(lines) == 1, self.err
        assert lines[0].startswith("lgsp"), self.err
        return lines[0]


class Rig:
    """Everything one replay test needs, private to it (own topic prefix, own stub)."""

    def __init__(self, *, topics: Topics, codec: Codec, stub: StubServer, gateway: Gateway,
                 producer: Producer, bootstrap: str) -> None:
        self.topics = topics
        self.codec = codec
        self.stub = stub
        self.gateway = gateway
        self.producer = producer
        self.bootstrap = bootstrap
        self.source = topics.source("one-stop")
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "LGSP_TOKEN"},
            # The gateway's state dir: the CLI finds its first-start admin token there.
            "LGSP_STATE_DIR": str(gateway.settings.state_dir),
            "LGSP_BOOTSTRAP_SERVERS": bootstrap,
            "LGSP_TOPIC_PREFIX": topics.prefix,
            "LGSP_LOG_FORMAT": "json",
            "LGSP_LOG_LEVEL": "WARNING",
        }

    # -- the national side -------------------------------------------------------------------

    async def stats(self) -> dict[str, Any]:
        """The stub's counters."""
        return await stub_stats(self.stub.url)

    async def national_side(self, *, down: bool) -> None:
        """Take the stub down or bring it back."""
        await set_faults(self.stub.url, down=down)

    async def stub_latency(self, ms: int) -> None:
        """Make the stub answer slowly."""
        await set_faults(self.stub.url, latency_ms=ms)

    # -- traffic -----------------------------------------------------------------------------

    async def dead_lettered(self, count: int, *, first: int = 0) -> list[Envelope]:
        """Publish `count` transactions while the stub is down; wait until all failed."""
        await self.national_side(down=True)
        before = len(await self.records(self.topics.dead_letter))
        envelopes = [dossier_envelope(self.codec, n) for n in range(first, first + count)]
        await publish(self.producer, self.codec, self.source, envelopes)
        await wait_for(lambda: self.records(self.topics.dead_letter),
                       lambda recs: len(recs) >= before + count, timeout_s=30,
                       what=f"{count} dead letters")
        return envelopes

    async def unroutable(self, count: int, *, first: int = 0) -> list[Envelope]:
        """Publish `count` transactions no route matches; wait until all are dead letters.

        Dead-lettered at once on their own merits (no national-side outage involved), so a
        replay of them fails again the same way.
        """
        before = len(await self.records(self.topics.dead_letter))
        envelopes = [dossier_envelope(self.codec, n, message_type="test.unrouted")
                     for n in range(first, first + count)]
        await publish(self.producer, self.codec, self.source, envelopes)
        await wait_for(lambda: self.records(self.topics.dead_letter),
                       lambda recs: len(recs) >= before + count, timeout_s=30,
                       what=f"{count} dead letters")
        return envelopes

    async def records(self, topic: str) -> list[Record]:
        """Every record of a topic now."""
        return await read_topic(self.bootstrap, topic)

    async def submissions(self) -> list[str]:
        """Transaction ids of every record on the replay topic, in no particular order."""
        return [(r.header(H_TRANSACTION) or b"").decode()
                for r in await self.records(self.topics.replay)]

    async def ledger(self) -> list[dict[str, Any]]:
        """Every ledger record, decoded."""
        return [self.codec.decode(r.value) for r in await self.records(self.topics.ledger)
                if r.value is not None]

    # -- the admin API -----------------------------------------------------------------------

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the gateway's admin API; (status, decoded JSON)."""
        data = orjson.dumps(body) if body is not None else None
        headers = bearer(self.gateway.settings.state_dir)
        if data:
            headers["Content-Type"] = "application/json"
        async with aiohttp.ClientSession() as session, session.request(
            method, self.gateway.url + path, data=data, headers=headers,
        ) as response:
            raw = await response.read()
            return response.status, orjson.loads(raw) if raw else None

    # -- the command line --------------------------------------------------------------------

    async def lgsp(self, *args: str, timeout_s: float = 60,
                   env: dict[str, str] | None = None) -> Result:
        """Run `lgsp ARGS...` to completion without blocking the event loop."""
        proc = await self.spawn(*args, env=env)
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        assert proc.returncode is not None
        return Result(proc.returncode, out.decode(), err.decode())

    async def spawn(self, *args: str, env: dict[str, str] | None = None
                    ) -> asyncio.subprocess.Process:
        """Start `lgsp ARGS...` (stdin closed, as in a script); `env` adds variables."""
        return await asyncio.create_subprocess_exec(
            LGSP, *args, env={**self.env, **(env or {})}, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
