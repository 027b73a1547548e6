"""One fault scenario's world: its own stub, gateway, connectors and simulated systems.

Everything runs as a user runs it: `lgsp stub` and `lgsp run` are subprocesses, the
connectors are registered with `lgsp connectors create`, and the three simulated systems
talk to the connectors over HTTP and the file system. The Kafka broker is the fault
suite's own (see conftest), so restarting it disturbs no other test. Each scenario has
its own topic prefix (hence its own router group), stub journal and folders.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from devkit.localkafka import LocalBroker, free_port
from devkit.simulators.ioffice import IOfficeSimulator
from gateway.contracts import Codec
from gateway.errors import KafkaError
from gateway.kafka import KafkaAdmin
from gateway.settings import Settings, router_group
from gateway.topics import Topics
from tests.support.auth import bearer
from tests.support.processes import ServerProcess, loopback_env, run_lgsp
from tests.support.reckoning import Accounts, Reckoning, ledger_entries, router_caught_up
from tests.support.traffic import CONNECTORS, IOFFICE, ONE_STOP, REPORTING, StreamPlan, Traffic
from tests.support.waiting import wait_for

WEBHOOK_SECRET = "fault-suite-webhook-secret-0001"
AGENCY = "000.00.00.H12"


@dataclass(frozen=True, slots=True)
class RouterTuning:
    """The gateway's retry settings for a scenario (LGSP_ROUTER__*, LGSP_NDXP__*).

    Backoff is shorter than the production default (0.2 s to 5 s) so a scenario settles
    in seconds; the logic under test is the same.
    """

    max_attempts: int = 10
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 0.5
    breaker_reset_s: float = 1.0
    breaker_failure_threshold: int = 20
    request_timeout_s: float = 5.0
    max_in_flight: int = 512
    # On: dossier events (their service takes batches) travel in batches, the other
    # connectors' transactions one by one; off: every transaction in its own request.
    batching: bool = True

    @property
    def mode(self) -> str:
        """How the reckoning names the forwarding mode."""
        return "batched" if self.batching else "per-request"

    def env(self) -> dict[str, str]:
        """The settings as `lgsp run` reads them from the environment."""
        return {
            "router__batching__enabled": "true" if self.batching else "false",
            "router__max_in_flight": str(self.max_in_flight),
            "router__max_attempts": str(self.max_attempts),
            "router__backoff_initial_s": str(self.backoff_initial_s),
            "router__backoff_max_s": str(self.backoff_max_s),
            "router__breaker_reset_s": str(self.breaker_reset_s),
            "router__breaker_failure_threshold": str(self.breaker_failure_threshold),
            "ndxp__request_timeout_s": str(self.request_timeout_s),
        }


@dataclass(frozen=True, slots=True)
class SecureLinks:
    """Run the scenario over encrypted links: Kafka with these LGSP_KAFKA__* settings
    (`lgsp kafka up --secure`), the national endpoint as `lgsp stub --tls` over https."""

    kafka_env: dict[str, str]


class FaultRig:
    """Processes, simulators and accounts of one scenario; `fault_rig` builds and ends it."""

    def __init__(self, scenario: str, broker: LocalBroker, workdir: Path, codec: Codec,
                 tuning: RouterTuning, *, secure: SecureLinks | None = None) -> None:
        self.scenario = scenario
        self.broker = broker
        self.workdir = workdir
        self.codec = codec
        self.topics = Topics(prefix=f"f{uuid.uuid4().hex[:8]}.")
        self.group = router_group(Settings(topic_prefix=self.topics.prefix))
        self.stub_port = free_port()
        self.admin_port = free_port()
        self.webhook_port = free_port()
        scheme = "https" if secure is not None else "http"
        self.stub_url = f"{scheme}://127.0.0.1:{self.stub_port}"
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.webhook_url = f"http://127.0.0.1:{self.webhook_port}/webhooks/dossier-events"
        self.drop_dir = workdir / "drop"
        self.stub_data = workdir / "stub"
        base = loopback_env(
            bootstrap_servers=broker.bootstrap, topic_prefix=self.topics.prefix,
            state_dir=str(workdir / "state"), log_format="json",
            connector_files__root=str(workdir),
        )
        if secure is not None:
            # Every process (stub, gateway, CLI) gets the broker's TLS/SASL settings.
            base.update(secure.kafka_env)
        self.cli_env = {**base, "LGSP_URL": self.admin_url}
        self.stub = ServerProcess(
            # No fsync: the stub is never killed here, and a machine crash is not a scenario.
            ["stub", "--port", str(self.stub_port), "--data-dir", str(self.stub_data),
             "--no-fsync", *(["--tls"] if secure is not None else [])],
            env=base, log_path=workdir / "stub.log", ready_prefix="NDXP stub listening",
        )
        gateway_env = {**base, **loopback_env({}, port=str(self.admin_port),
                                              ndxp__url=self.stub_url, **tuning.env())}
        if secure is not None:
            # `lgsp stub --tls` puts its CA under the state dir it shares with the gateway.
            gateway_env["LGSP_NDXP__SSL_CA_FILE"] = str(self.stub_ca)
        self.gateway = ServerProcess(
            ["run"], env=gateway_env, log_path=workdir / "gateway.log",
            ready_prefix="gateway ready",
        )
        self.ioffice = IOfficeSimulator("127.0.0.1", 0, seed=7)
        self.accounts = Accounts(scenario, broker.bootstrap, self.topics, CONNECTORS,
                                 self.stub_url, self.stub_data,
                                 stub_ca=self.stub_ca if secure is not None else None)
        self.kills = 0
        self.broker_restarts = 0

    @property
    def stub_ca(self) -> Path:
        """The CA of `lgsp stub --tls` (generated into the shared state dir)."""
        return self.workdir / "state" / "stub-tls" / "ca.pem"

    # --- building the world ------------------------------------------------------------

    async def start(self) -> None:
        """Stub, iOffice, gateway; then the three connectors, registered with the CLI."""
        await asyncio.to_thread(self.drop_dir.mkdir, parents=True)
        await self.stub.start()
        await self.ioffice.start()
        await self.gateway.start()
        await self.create_connectors()

    async def create_connectors(self) -> None:
        """`lgsp connectors create` for each system, as an integrator would; wait RUNNING."""
        configs: dict[str, dict[str, str]] = {
            IOFFICE: {"api.url": self.ioffice.url, "api.auth.type": "none",
                      "poll.interval.ms": "200", "page.size": "200"},
            ONE_STOP: {"listen.port": str(self.webhook_port), "webhook.secret": WEBHOOK_SECRET},
            REPORTING: {"watch.dir": str(self.drop_dir), "poll.interval.ms": "200",
                        "file.min.age.ms": "200"},
        }
        for name, config in configs.items():
            sets = [f"{k}={v}" for k, v in
                    {"connector.class": name, "source.agency.code": AGENCY, **config}.items()]
            args = ["connectors", "create", "--name", name]
            for item in sets:
                args += ["--set", item]
            done = await run_lgsp(*args, env=self.cli_env)
            assert done.code == 0, f"lgsp connectors create {name}: {done.err}"
        for name in CONNECTORS:
            await self.wait_connector(name, "RUNNING")

    async def connector_state(self, name: str) -> str:
        """The connector's state from the admin API (empty while the gateway is away)."""
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s, \
                    s.get(f"{self.admin_url}/connectors/{name}/status",
                          headers=bearer(self.workdir / "state")) as resp:
                body: dict[str, Any] = await resp.json()
        except (aiohttp.ClientError, TimeoutError):
            return ""
        return str(body.get("connector", {}).get("state", ""))

    async def wait_connector(self, name: str, state: str, timeout_s: float = 60) -> None:
        """Wait until the admin API reports the connector in `state`."""
        await wait_for(lambda: self.connector_state(name), lambda s: s == state,
                       timeout_s=timeout_s, interval_s=0.2, what=f"connector {name} {state}")

    def traffic(self, plan: StreamPlan) -> Traffic:
        """The scenario's stream of transactions (not started)."""
        return Traffic(plan, ioffice=self.ioffice, webhook_url=self.webhook_url,
                       webhook_secret=WEBHOOK_SECRET, drop_dir=self.drop_dir,
                       bootstrap=self.broker.bootstrap, topics=self.topics, codec=self.codec)

    # --- faults ------------------------------------------------------------------------

    async def kill_gateway(self) -> None:
        """SIGKILL the gateway and start it again (its connectors come back on their own)."""
        await self.gateway.kill()
        self.kills += 1
        await self.gateway.start()

    async def delivered_count(self) -> int:
        """How many distinct transactions the stub has accepted so far."""
        await self.accounts.refresh_stub()
        return len(self.accounts.delivered_keys)

    async def wait_delivering(self, more: int, timeout_s: float = 60.0) -> None:
        """Wait until the stub has accepted `more` new transactions: the router is busy.

        Used to land a crash while transactions are being forwarded, whatever the time
        the router needs to get its partitions after the previous crash.
        """
        start = await self.delivered_count()
        await wait_for(self.delivered_count, lambda n: n >= start + more, timeout_s=timeout_s,
                       interval_s=0.1, what=f"{more} more deliveries after {start}")

    async def restart_broker(self) -> None:
        """Stop the Kafka process and start it again: same ports, same data."""
        assert await self.broker.down(), "the broker was not running"
        await self.broker.up(die_with_parent=True)
        self.broker_restarts += 1

    async def stub_faults(self, **faults: Any) -> None:
        """PUT /ndxp/v1/faults on the stub (error_rate, latency_ms, down, down_services)."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s, \
                s.put(f"{self.stub_url}/ndxp/v1/faults", json=faults) as resp:
            assert resp.status == 200, await resp.text()

    # --- the reckoning -----------------------------------------------------------------

    async def settle(self, traffic: Traffic, timeout_s: float = 90.0) -> Reckoning:
        """Wait until every transaction is delivered or dead-lettered and the router has
        committed everything; then (or at the timeout) return the reckoning."""
        self.accounts.expect(await traffic.all_ids())
        deadline = time.monotonic() + timeout_s
        while True:
            await self.accounts.refresh()
            if not self.accounts.lost_ids() and await self.router_done():
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        return self.accounts.reckoning()

    async def router_done(self) -> bool:
        """The router group committed every record the accounts have seen."""
        admin = KafkaAdmin(self.broker.bootstrap, client_id="fault-suite-admin")
        try:
            await admin.start()
            return await router_caught_up(admin, self.group, self.accounts.router_input_ends)
        except KafkaError:  # e.g. no group coordinator yet: not done, ask again
            return False
        finally:
            await admin.stop()

    async def wait_dead_lettered(self, count: int, timeout_s: float = 60.0) -> None:
        """Wait until at least `count` distinct transactions are in the dead-letter topic."""
        async def seen() -> int:
            await self.accounts.refresh()
            return len(self.accounts.dead_letter_ids)

        await wait_for(seen, lambda n: n >= count, timeout_s=timeout_s, interval_s=0.5,
                       what=f"{count} dead-lettered transactions")

    async def wait_held(self, count: int, timeout_s: float = 60.0) -> None:
        """Wait until at least `count` distinct transactions were held for their service."""
        async def seen() -> int:
            await self.accounts.refresh()
            return len(self.accounts.held_ids)

        await wait_for(seen, lambda n: n >= count, timeout_s=timeout_s, interval_s=0.5,
                       what=f"{count} held transactions")

    async def diagnosis(self) -> str:
        """Where the lost transactions are, for the failure message."""
        accounts = self.accounts
        lost = sorted(accounts.lost_ids())
        taken = [t for t in lost if t in accounts.taken]
        ledger = await ledger_entries(self.broker.bootstrap, self.topics, self.codec)
        doubled = [e for e in ledger if e.duplicate_at_endpoint]
        copied = sum(1 for n in accounts.copies.values() if n > 1)
        examples = [(e.transaction_id, e.source, e.attempts, accounts.copies[e.transaction_id])
                    for e in doubled[:5]]
        return (f"lost={len(lost)} (on a connector topic: {len(taken)}, never published: "
                f"{len(lost) - len(taken)}; e.g. {lost[:3]}); stub stats "
                f"{accounts.stub_stats}; gateway starts={self.gateway.starts}; "
                f"source records={accounts.source_records} distinct={len(accounts.taken)} "
                f"(transactions published more than once: {copied}); ledger outcomes the "
                f"endpoint called duplicates (id, source, attempts, copies on the topic): "
                f"{len(doubled)}, e.g. {examples}"
                f"\n--- gateway log tail ---\n{await self.gateway.log_tail(40)}")

    # --- the end -----------------------------------------------------------------------

    async def close(self) -> None:
        """Stop everything this rig started, whatever state it is in."""
        with contextlib.suppress(Exception):
            await self.gateway.stop()
        await self.gateway.kill()
        with contextlib.suppress(Exception):
            await self.stub.stop()
        await self.stub.kill()
        await self.ioffice.stop()


@contextlib.asynccontextmanager
async def fault_rig(scenario: str, broker: LocalBroker, workdir: Path, codec: Codec,
                    tuning: RouterTuning | None = None, *, secure: SecureLinks | None = None,
                    ) -> AsyncIterator[FaultRig]:
    """A started rig for one scenario, torn down at the end even when the test fails."""
    rig = FaultRig(scenario, broker, workdir, codec, tuning or RouterTuning(), secure=secure)
    try:
        await rig.start()
        yield rig
    finally:
        await rig.close()


async def during(stream: asyncio.Task[Any], chaos: Callable[[], Any]) -> None:
    """Run `chaos()` while the stream runs; then wait for the stream (errors surface)."""
    try:
        await chaos()
    except BaseException:
        stream.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stream
        raise
    await stream
