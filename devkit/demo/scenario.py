"""The demo's story, in the order a user watches it.

1-5 start the broker, the national-exchange stub, the gateway, Prometheus and the
simulated provincial systems; 6 registers the three connectors through the admin API;
7 drives bounded traffic while the national endpoint goes down for a while; 8 waits for
every transaction's outcome and replays the dead letters; 9 asks Prometheus what it saw.
Then it prints where to look and either stops (`--once`) or keeps running with a summary
line now and then until Ctrl-C. Everything it started is stopped on the way out.
"""

from __future__ import annotations

__all__ = ["Demo"]

import asyncio
import contextlib
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from devkit.demo.connectors import demo_connectors, register_connectors, wait_running
from devkit.demo.errors import DemoError
from devkit.demo.options import DemoOptions
from devkit.demo.probes import (
    GatewayNumbers,
    gateway_numbers,
    set_national_outage,
    set_stub_faults,
    stub_stats,
)
from devkit.demo.processes import ManagedProcess, environment, run_command
from devkit.demo.prometheus import Prometheus, find_prometheus
from devkit.demo.report import Console, Endpoints, shown, summary_line, where_to_look
from devkit.demo.services import Started, choose_port, start_broker, start_server
from devkit.demo.sight import PrometheusView, look_in_prometheus, trace_example
from devkit.demo.traffic import Traffic, TrafficPlan, TrafficResult, generate_documents
from gateway.auth import ADMIN_TOKEN_FILE, read_admin_token, tokens_file
from gateway.settings import load_settings

_STEPS = 9
_STUB_READY = r"NDXP stub listening on (http://\S+)"
_GATEWAY_READY = r"gateway ready: admin API (http://\S+)"
_IOFFICE_READY = r"iOffice simulator serving (http://\S+)/api/v1/documents"
_PROGRESS_EVERY_S = 10.0
_SETTLE_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class _Systems:
    """The simulated provincial systems, as the connectors reach them."""

    ioffice_url: str
    ioffice_token: str
    webhook_port: int
    webhook_secret: str
    inbox: Path


def _prepare(home: Path) -> None:
    """Reset what belongs to one run; keep anything else in the folder."""
    for part in ("stub", "prometheus", "reporting", "connectors"):
        shutil.rmtree(home / part, ignore_errors=True)
    logs = home / "logs"
    for old in logs.glob("*.log"):
        old.unlink(missing_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    (home / "reporting" / "inbox").mkdir(parents=True, exist_ok=True)


class Demo:
    """One run of the demo; `run` returns the exit code, `story_done` says how far it got."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.console = Console(_STEPS)
        self.story_done = False
        self._watched: list[ManagedProcess] = []
        self._connector_names: list[str] = []
        self._token_file = Path()

    async def run(self) -> int:
        """Start everything, tell the story, then stop (`--once`) or run on until cancelled."""
        o = self.options
        await asyncio.to_thread(_prepare, o.home)
        self.console.say(f"LGSP gateway demo: state in {shown(o.home)}, one log per process "
                         f"in {shown(o.logs)}/")
        async with contextlib.AsyncExitStack() as stack:
            session = await stack.enter_async_context(
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)))
            broker = await self._broker(stack)
            env = environment(LGSP_BOOTSTRAP_SERVERS=broker.bootstrap, LGSP_LOG_FORMAT="json",
                              PYTHONUNBUFFERED="1")
            # The stub and the gateway share a secret made for this run: lgsp run refuses
            # the placeholder default.
            env.setdefault("LGSP_NDXP__CLIENT_SECRET", secrets.token_urlsafe(24))
            stub = await self._stub(stack, env)
            gateway = await self._gateway(stack, env, stub)
            prometheus = await self._prometheus(stack, session, gateway, stub)
            systems = await self._systems(stack, env)
            await self._connectors(session, env, gateway, systems)
            result = await self._traffic(session, env, gateway, stub, systems)
            await self._outcomes(session, env, gateway, stub, result)
            view = await self._prometheus_view(session, prometheus, gateway)
            endpoints = Endpoints(broker.bootstrap, gateway, stub, prometheus.url, o.logs,
                                  broker.log)
            trace_id = await trace_example(broker.bootstrap)
            self.console.say()
            for line in where_to_look(endpoints, trace_id=trace_id, once=o.once):
                self.console.say(line)
            self.console.say(
                f"  admin token  {shown(self._token_file)}: the lgsp CLI here reads it by "
                f"itself; elsewhere --token or LGSP_TOKEN, or curl -H \"Authorization: "
                f"Bearer $(cat {shown(self._token_file)})\" {gateway}/connectors")
            self.story_done = True
            if o.once:
                view.require_complete()
                await self._linger()
                self.console.say("--once: the story is complete; stopping everything")
                return 0
            await self._run_on(session, gateway, stub, systems)
        return 0

    # --- 1-5: the processes -------------------------------------------------------------

    async def _broker(self, stack: contextlib.AsyncExitStack) -> Started:
        self.console.step("Kafka broker")

        def fetching() -> None:
            self.console.detail("fetching the Kafka jars from Maven Central (first run only, "
                                "a minute or two)")

        broker = await start_broker(self.options.bootstrap_servers, stack, fetching)
        log = f" (log {shown(broker.log)})" if broker.log else ""
        self.console.detail(broker.note + log)
        return broker

    async def _stub(self, stack: contextlib.AsyncExitStack, env: Mapping[str, str]) -> str:
        o = self.options
        self.console.step("national-exchange (NDXP) stub")
        port = await self._port(o.stub_port, "stub")
        argv = [*o.lgsp, "stub", "--port", str(port), "--data-dir", str(o.home / "stub")]
        process, url = await start_server(stack, "the NDXP stub", argv, env=env,
                                          log=o.logs / "stub.log", ready=_STUB_READY,
                                          timeout_s=60)
        self._watched.append(process)
        self.console.detail(f"lgsp stub --port {port}  ->  {url}")
        return url

    async def _gateway(self, stack: contextlib.AsyncExitStack, env: Mapping[str, str],
                       stub: str) -> str:
        o = self.options
        self.console.step("gateway (connectors, router, admin API)")
        port = await self._port(o.gateway_port, "gateway")
        argv = [*o.lgsp, "run", "--port", str(port)]
        process, url = await start_server(
            stack, "the gateway", argv, env={**env, "LGSP_NDXP__URL": stub,
                                             "LGSP_HOST": "127.0.0.1",
                                             # The reporting drop folder lives here.
                                             "LGSP_CONNECTOR_FILES__ROOT": str(o.home)},
            log=o.logs / "gateway.log", ready=_GATEWAY_READY, timeout_s=120,
            stop_timeout_s=45)
        self._watched.append(process)
        self.console.detail(f"lgsp run --port {port}  ->  {url} (NDXP at {stub})")
        return url

    async def _prometheus(self, stack: contextlib.AsyncExitStack,
                          session: aiohttp.ClientSession, gateway: str, stub: str
                          ) -> Prometheus:
        o = self.options
        self.console.step("Prometheus (deploy/prometheus: scrape config and alert rules)")
        binary = await find_prometheus(o.logs)
        port = await self._port(o.prometheus_port, "Prometheus")
        prometheus = Prometheus(binary, o.home / "prometheus", port, o.logs)
        await prometheus.write_config(gateway=gateway.removeprefix("http://"),
                                      stub=stub.removeprefix("http://"), log_dir=o.logs)
        stack.push_async_callback(prometheus.process.stop)
        await prometheus.start(session)
        self._watched.append(prometheus.process)
        self.console.detail(f"{binary} --config.file={shown(prometheus.config_path)}  ->  "
                            f"{prometheus.url}")
        return prometheus

    async def _systems(self, stack: contextlib.AsyncExitStack, env: Mapping[str, str]
                       ) -> _Systems:
        o = self.options
        self.console.step("simulated provincial systems")
        token = secrets.token_urlsafe(24)
        port = await self._port(o.ioffice_port, "iOffice simulator")
        argv = [*o.lgsp, "simulate", "ioffice", "--port", str(port), "--rate", "0"]
        process, url = await start_server(
            stack, "the iOffice simulator", argv, env={**env, "LGSP_IOFFICE_TOKEN": token},
            log=o.logs / "ioffice.log", ready=_IOFFICE_READY, timeout_s=60)
        self._watched.append(process)
        inbox = o.home / "reporting" / "inbox"
        webhook_port = await self._port(o.webhook_port, "one-stop webhook")
        self.console.detail(f"iOffice document API: lgsp simulate ioffice  ->  {url}")
        self.console.detail(f"reporting drop folder: {shown(inbox)} (lgsp simulate reporting)")
        self.console.detail(f"one-stop system: lgsp simulate one-stop pushes signed events to "
                            f"the webhook on port {webhook_port}")
        return _Systems(url, token, webhook_port, secrets.token_urlsafe(24), inbox)

    # --- 6-7: connectors and traffic ----------------------------------------------------

    async def _connectors(self, session: aiohttp.ClientSession, env: Mapping[str, str],
                          gateway: str, systems: _Systems) -> None:
        o = self.options
        self.console.step("connectors, registered through the admin API")
        connectors = demo_connectors(
            ioffice_url=systems.ioffice_url, ioffice_token=systems.ioffice_token,
            webhook_port=systems.webhook_port, webhook_secret=systems.webhook_secret,
            inbox=systems.inbox)
        # `lgsp run` wrote its first-start admin token here; the CLI reads it by itself.
        store = tokens_file(load_settings())
        token_file = store.parent / ADMIN_TOKEN_FILE
        token = await asyncio.to_thread(read_admin_token, store)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        commands = await register_connectors(
            connectors, session=session, admin_url=gateway, lgsp=o.lgsp, env=env,
            files=o.home / "connectors", log=o.logs / "connectors.log", headers=headers)
        for command in commands:
            self.console.detail(command)
        self._connector_names = [c.name for c in connectors]
        await wait_running(session, gateway, self._connector_names, headers=headers)
        self._token_file = token_file
        self.console.detail(f"all RUNNING (lgsp connectors list --url {gateway})")

    async def _traffic(self, session: aiohttp.ClientSession, env: Mapping[str, str],
                       gateway: str, stub: str, systems: _Systems) -> TrafficResult:
        o = self.options
        plan = TrafficPlan.for_rate(o.duration_s, o.rate)
        self.console.step(f"traffic: {plan.describe()}")
        self.console.detail(f"the national endpoint goes down at +{o.outage_at_s:.0f} s for "
                            f"{o.outage_s:.0f} s")
        traffic = Traffic(
            plan, session=session, lgsp=o.lgsp, env=env, logs=o.logs,
            ioffice_url=systems.ioffice_url, ioffice_token=systems.ioffice_token,
            webhook_url=f"http://127.0.0.1:{systems.webhook_port}/webhooks/dossier-events",
            webhook_secret=systems.webhook_secret, inbox=systems.inbox)
        started = time.monotonic()
        async with asyncio.TaskGroup() as group:
            running = group.create_task(traffic.run(), name="demo-traffic")
            group.create_task(self._outage(session, stub, started), name="demo-outage")
            group.create_task(self._refusals(session, stub, started), name="demo-refusals")
            group.create_task(self._progress(session, gateway, started, running),
                              name="demo-progress")
        result = running.result()
        self.console.detail(f"iOffice: {result.documents} documents; one-stop: "
                            f"{result.one_stop_summary}; reporting: {result.reporting_summary}")
        return result

    async def _outage(self, session: aiohttp.ClientSession, stub: str, started: float) -> None:
        o = self.options
        await asyncio.sleep(o.outage_at_s)
        await set_national_outage(session, stub, True)
        self.console.detail(f"+{time.monotonic() - started:.0f}s national endpoint DOWN "
                            f"(PUT {stub}/ndxp/v1/faults {{\"down\": true}}): transactions "
                            "are held, not dead-lettered")
        try:
            await asyncio.sleep(o.outage_s)
        finally:
            # Also on the way out: never leave the stub faulted behind a failure.
            with contextlib.suppress(DemoError):
                await set_national_outage(session, stub, False)
        self.console.detail(f"+{time.monotonic() - started:.0f}s national endpoint back UP: "
                            "the held transactions flow again by themselves, no replay")

    async def _refusals(self, session: aiohttp.ClientSession, stub: str, started: float
                        ) -> None:
        """A few seconds after the outage, the national side refuses 5% of the data for a
        while: those fail on their own merits, go to the dead letters and are replayed."""
        o = self.options
        at = o.outage_at_s + o.outage_s + 2.0
        window = max(2.0, min(8.0, o.duration_s - at - 1.0))
        await asyncio.sleep(at)
        await set_stub_faults(session, stub, reject_rate=0.05)
        self.console.detail(f"+{time.monotonic() - started:.0f}s the national side refuses 5% "
                            f"of the data for {window:.0f} s (DATA_INCORRECT): dead letters, "
                            "for the replay at the end")
        try:
            await asyncio.sleep(window)
        finally:
            with contextlib.suppress(DemoError):
                await set_stub_faults(session, stub, reject_rate=0.0)

    async def _progress(self, session: aiohttp.ClientSession, gateway: str, started: float,
                        running: asyncio.Task[TrafficResult]) -> None:
        while not running.done():
            await _sleep_unless_done(running, _PROGRESS_EVERY_S)
            if running.done():
                return
            self._check_alive()
            n = await gateway_numbers(session, gateway)
            self.console.detail(
                f"+{time.monotonic() - started:.0f}s ingested={n.total_ingested:.0f} "
                f"delivered={n.delivered:.0f} held={n.held:.0f} "
                f"dead_lettered={n.dead_lettered:.0f} "
                f"retried={n.retried:.0f} in_flight={n.in_flight:.0f}")

    # --- 8: outcomes and replay ---------------------------------------------------------

    async def _outcomes(self, session: aiohttp.ClientSession, env: Mapping[str, str],
                        gateway: str, stub: str, result: TrafficResult) -> None:
        self.console.step("outcomes: every transaction delivered or dead-lettered; then replay")

        def settled(n: GatewayNumbers) -> bool:
            return (n.total_ingested >= result.total and n.in_flight == 0
                    and n.settled >= n.total_ingested)

        n = await self._wait_numbers(session, gateway, settled, _SETTLE_TIMEOUT_S)
        self.console.detail(f"ingested={n.total_ingested:.0f} of {result.total} sent, "
                            f"delivered={n.delivered:.0f}, dead_lettered={n.dead_lettered:.0f}"
                            f", retried={n.retried:.0f}"
                            + ("" if settled(n) else " (not all settled yet)"))
        if n.dead_lettered == 0:
            self.console.detail("nothing was dead-lettered, so nothing to replay")
            return
        o = self.options
        if not await _has_command([*o.lgsp, "replay", "--help"], env, o.logs / "replay.log"):
            self.console.detail("`lgsp replay` is not in this build yet; once it is, replay "
                                "the dead letters with: lgsp replay --yes")
            return
        self.console.detail("lgsp replay --yes")
        try:
            out = await run_command([*o.lgsp, "replay", "--yes"],
                                    env={**env, "LGSP_URL": gateway},
                                    log_path=o.logs / "replay.log", timeout_s=300,
                                    what="lgsp replay --yes")
        except DemoError as exc:
            self.console.detail(f"WARNING: {exc}")
            return
        lines = [line for line in out.splitlines() if line.strip()]
        if lines:
            self.console.detail(f"replay: {lines[-1].strip()}")
        # Every dead letter delivered on replay: the national side has everything once.
        target = n.delivered + n.dead_lettered
        await self._wait_numbers(session, gateway, lambda m: m.delivered >= target,
                                 _SETTLE_TIMEOUT_S)
        stats = await stub_stats(session, stub)
        self.console.detail(f"the national side now has {stats.get('unique', 0)} unique "
                            f"transactions of {n.total_ingested:.0f} ingested; "
                            f"{stats.get('duplicates', 0)} repeated requests were answered "
                            "from its idempotency journal, not processed twice")

    async def _wait_numbers(self, session: aiohttp.ClientSession, gateway: str,
                            done: Callable[[GatewayNumbers], bool], timeout_s: float
                            ) -> GatewayNumbers:
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_alive()
            numbers = await gateway_numbers(session, gateway)
            if done(numbers) or time.monotonic() > deadline:
                return numbers
            await asyncio.sleep(0.5)

    # --- 9: what Prometheus saw ---------------------------------------------------------

    async def _prometheus_view(self, session: aiohttp.ClientSession, prometheus: Prometheus,
                               gateway: str) -> PrometheusView:
        self.console.step(f"what Prometheus saw ({prometheus.url})")
        numbers = await gateway_numbers(session, gateway)
        view = await look_in_prometheus(session, prometheus, numbers, self._connector_names)
        for line in view.lines():
            self.console.detail(line)
        return view

    # --- after the story ----------------------------------------------------------------

    async def _run_on(self, session: aiohttp.ClientSession, gateway: str, stub: str,
                      systems: _Systems) -> None:
        o = self.options
        idle = (f"; iOffice adds {o.idle_rate:g} documents/s so the graphs stay alive"
                if o.idle_rate > 0 else "")
        self.console.say()
        self.console.say(f"Running until Ctrl-C; a summary line every "
                         f"{o.summary_every_s:g} s{idle}.")
        async with asyncio.TaskGroup() as group:
            if o.idle_rate > 0:
                group.create_task(self._trickle(session, systems), name="demo-trickle")
            group.create_task(self._summaries(session, gateway, stub), name="demo-summary")

    async def _linger(self) -> None:
        linger = self.options.linger_s
        if linger <= 0:
            return
        self.console.say(f"--once: holding everything for {linger:g} s (--linger) before "
                         "stopping")
        deadline = time.monotonic() + linger
        while (left := deadline - time.monotonic()) > 0:
            self._check_alive()
            await asyncio.sleep(min(1.0, left))

    async def _trickle(self, session: aiohttp.ClientSession, systems: _Systems) -> None:
        interval = max(1.0, 1.0 / self.options.idle_rate)
        owed = 0.0
        while True:
            await asyncio.sleep(interval)
            owed += self.options.idle_rate * interval
            if owed >= 1:
                await generate_documents(session, systems.ioffice_url, systems.ioffice_token,
                                         int(owed))
                owed -= int(owed)

    async def _summaries(self, session: aiohttp.ClientSession, gateway: str, stub: str
                         ) -> None:
        while True:
            await asyncio.sleep(self.options.summary_every_s)
            self._check_alive()
            numbers = await gateway_numbers(session, gateway)
            self.console.say(summary_line(numbers, await stub_stats(session, stub)))

    # --- helpers ------------------------------------------------------------------------

    async def _port(self, preferred: int, what: str) -> int:
        port, fell_back = await choose_port(preferred)
        if fell_back:
            self.console.detail(f"port {preferred} is busy: the {what} uses {port} instead")
        return port

    def _check_alive(self) -> None:
        for process in self._watched:
            if process.returncode is not None:
                raise DemoError(f"{process.name} exited unexpectedly with code "
                                f"{process.returncode} (log {shown(process.log_path)})")


async def _sleep_unless_done(task: asyncio.Task[TrafficResult], seconds: float) -> None:
    await asyncio.wait({task}, timeout=seconds)


async def _has_command(argv: list[str], env: Mapping[str, str], log: Path) -> bool:
    """Whether `lgsp <verb> --help` succeeds, i.e. this build has the verb."""
    try:
        await run_command(argv, env=env, log_path=log, timeout_s=60, what=" ".join(argv[-2:]))
    except DemoError:
        return False
    return True
