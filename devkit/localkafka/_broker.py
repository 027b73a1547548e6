from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import socket
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from devkit.localkafka._secure import SecureListener
from gateway import child_process
from gateway.errors import LocalBrokerError
from gateway.logs import get_logger
from gateway.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What `lgsp kafka status` reports."""

    running: bool
    pid: int | None
    bootstrap: str
    log_path: Path


def free_port() -> int:
    """An unused TCP port on loopback (for tests that need their own broker)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_cluster_id() -> str:
    """A fresh KRaft cluster id."""
    # Kafka wants a URL-safe base64 UUID without padding, as `random-uuid` prints.
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def min_insync(replication: int) -> int:
    """The min.insync.replicas that goes with a replication factor: a majority of it."""
    return replication // 2 + 1 if replication >= 3 else 1


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); /proc says whether it is really running.
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().split(") ", 1)[1][:1] != "Z"
    return True


class LocalBroker:
    """A KRaft node (broker + controller) on 127.0.0.1: alone, or one of a local cluster.

    `home` holds its config, data, log and pid file; `lib_cache` holds the jars of one
    Kafka version and may be shared by many homes (tests use a fresh home each session).
    Alone it is its own one-voter quorum; in a cluster (devkit/localkafka/_cluster.py)
    `quorum` names every voter, `cluster_id` is shared and `replication` is the
    replication of Kafka's own topics (consumer offsets, transactions).
    """

    def __init__(
        self,
        home: Path,
        *,
        lib_cache: Path,
        kafka_version: str = "3.9.1",
        port: int = 9092,
        controller_port: int = 9093,
        heap: str = "512m",
        start_timeout_s: float = 90.0,
        secure: bool = False,
        node_id: int = 1,
        quorum: str | None = None,
        cluster_id: str | None = None,
        replication: int = 1,
        tls_dir: Path | None = None,
    ) -> None:
        # Absolute: Maven resolves relative paths against the pom's folder, not ours.
        self.home = home.resolve()
        self.lib_dir = lib_cache.resolve() / kafka_version
        self.kafka_version = kafka_version
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.start_timeout_s = start_timeout_s
        # --secure: a SASL_SSL client listener (devkit/localkafka/_secure.py).
        self.secure = SecureListener(tls_dir or self.home / "tls") if secure else None
        self.node_id = node_id
        self.quorum = quorum or f"{node_id}@127.0.0.1:{controller_port}"
        self.cluster_id = cluster_id
        self.replication = replication
        # Set when this process started the broker: asyncio then reaps it for us.
        self._proc: asyncio.subprocess.Process | None = None
        self._log_mark = 0

    @classmethod
    def from_settings(cls, settings: Settings, *, secure: bool = False) -> LocalBroker:
        """The broker `lgsp kafka up` manages: home under state_dir, jars under cache_dir.

        The secure broker has a home of its own: its storage holds the SCRAM users.
        """
        return cls(
            settings.state_dir / ("kafka-secure" if secure else "kafka"),
            lib_cache=settings.cache_dir / "kafka",
            kafka_version=settings.broker.kafka_version,
            port=settings.broker.port,
            controller_port=settings.broker.controller_port,
            heap=settings.broker.heap,
            start_timeout_s=settings.broker.start_timeout_s,
            secure=secure,
        )

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients connect to."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the broker writes its log."""
        return self.home / "broker.log"

    @property
    def _pid_path(self) -> Path:
        return self.home / "broker.pid"

    @property
    def _data_dir(self) -> Path:
        return self.home / "data"

    def _read_pid(self) -> int | None:
        try:
            return int(self._pid_path.read_text().strip())
        except (OSError, ValueError):
            return None

    def status(self) -> BrokerStatus:
        """Whether the broker recorded in `home` is running."""
        pid = self._read_pid()
        running = pid is not None and _pid_alive(pid)
        return BrokerStatus(running, pid if running else None, self.bootstrap, self.log_path)

    async def fetch(self) -> Path:
        """Download the Kafka jars with Maven into the cache (once per version)."""
        marker = self.lib_dir / ".complete"
        if marker.exists():
            return self.lib_dir
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalBrokerError(
                "mvn not found on PATH: install Maven (apt-get install maven) to fetch Kafka"
            )
        self.lib_dir.mkdir(parents=True, exist_ok=True)
        fetch_log = self.lib_dir.parent / f"fetch-{self.kafka_version}.log"
        pom = resources.files("devkit.localkafka").joinpath("pom.xml")
        with resources.as_file(pom) as pom_path, fetch_log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                mvn, "-B", "-q", "-f", str(pom_path), "dependency:copy-dependencies",
                f"-DoutputDirectory={self.lib_dir}", "-DincludeScope=runtime",
                f"-Dkafka.version={self.kafka_version}",
                stdout=out, stderr=asyncio.subprocess.STDOUT,
            )
            code = await proc.wait()
        if code != 0 or not any(self.lib_dir.glob(f"kafka_2.13-{self.kafka_version}.jar")):
            raise LocalBrokerError(
                f"fetching Kafka {self.kafka_version} with Maven failed (exit {code}); "
                f"see {fetch_log}"
            )
        marker.touch()
        return self.lib_dir

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise LocalBrokerError(
                "java not found on PATH: install a Java 17+ runtime "
                "(apt-get install openjdk-17-jre-headless)"
            )
        return java

    def _write_config(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        props = self.home / "server.properties"
        listeners = self.secure.properties(self.port, self.controller_port) if self.secure \
            else [
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
            ]
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    f"controller.quorum.voters={self.quorum}",
                    *listeners,
                    f"log.dirs={self._data_dir}",
                    "num.partitions=3",
                    # Topics are created on purpose by the gateway, never by a typo.
                    "auto.create.topics.enable=false",
                    f"offsets.topic.replication.factor={self.replication}",
                    "offsets.topic.num.partitions=10",
                    f"transaction.state.log.replication.factor={self.replication}",
                    f"transaction.state.log.min.isr={min_insync(self.replication)}",
                    # Topics created without a replication factor (-1) get the cluster's.
                    f"default.replication.factor={self.replication}",
                    f"min.insync.replicas={min_insync(self.replication)}",
                    "group.initial.rebalance.delay.ms=0",
                    "log.cleaner.min.compaction.lag.ms=0",
                    "",
                ]
            )
        )
        (self.home / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\nlog4j.logger.org.apache.kafka=INFO\n"
        )
        return props

    async def _run_java(self, *args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            self._java(), "-cp", f"{self.lib_dir}/*",
            f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}", *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")

    async def _format(self, props: Path) -> None:
        if (self._data_dir / "meta.properties").exists():
            return
        cid = self.cluster_id or new_cluster_id()
        code, out = await self._run_java(
            # `=`: a base64 id may start with "-" and must not read as an option.
            "kafka.tools.StorageTool", "format", f"--cluster-id={cid}", "-c", str(props),
            *(self.secure.format_args() if self.secure else ()),
        )
        if code != 0:
            last = out.strip().splitlines()[-1] if out.strip() else "no output"
            raise LocalBrokerError(f"formatting Kafka storage failed: {last}")

    async def up(self, *, die_with_parent: bool = False) -> str:
        """Fetch, format and start the broker, wait until it answers; returns bootstrap."""
        if self.status().running:
            return self.bootstrap
        self.check_ports()
        await self.fetch()
        await self.prepare()
        await self.spawn(die_with_parent=die_with_parent)
        await self.wait_ready()
        return self.bootstrap

    def check_ports(self) -> None:
        """LocalBrokerError if a port this node listens on is taken."""
        self._java()
        for port in (self.port, self.controller_port):
            if _port_in_use(port):
                raise LocalBrokerError(
                    f"port {port} on 127.0.0.1 is already in use; stop what holds it or "
                    f"choose another with --port (broker log: {self.log_path})"
                )

    async def prepare(self) -> None:
        """Write the configuration and format the storage (once); jars must be fetched."""
        await self._format(self._write_config())

    async def spawn(self, *, die_with_parent: bool = False) -> None:
        """Start the JVM without waiting for it to serve (a cluster starts all at once)."""
        java = self._java()
        props = self.home / "server.properties"
        with self.log_path.open("ab") as out:
            self._log_mark = out.tell()
            proc = await asyncio.create_subprocess_exec(
                java, f"-Xmx{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j.configuration=file:{self.home / 'log4j.properties'}",
                "-cp", f"{self.lib_dir}/*", "kafka.Kafka", str(props),
                stdout=out, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=child_process.die_with_parent() if die_with_parent else None,
            )
        self._proc = proc
        self._pid_path.write_text(str(proc.pid))

    async def wait_ready(self) -> None:
        """Wait until the spawned broker serves clients; stops it if it does not."""
        proc = self._proc
        assert proc is not None, "spawn() first"
        try:
            await self._wait_ready(proc)
        except BaseException:
            await self.down()
            raise
        log.info("kafka broker started", bootstrap=self.bootstrap, pid=proc.pid,
                 node=self.node_id)

    async def _wait_ready(self, proc: asyncio.subprocess.Process) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        started_marker = b"Kafka Server started"
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise LocalBrokerError(
                    f"Kafka broker exited with code {proc.returncode} during start-up; "
                    f"see {self.log_path}"
                )
            with contextlib.suppress(OSError):
                if started_marker in self._log_since_spawn():
                    with contextlib.suppress(OSError):
                        _reader, writer = await asyncio.wait_for(
                            asyncio.open_connection("127.0.0.1", self.port), 1.0
                        )
                        writer.close()
                        await writer.wait_closed()
                        return
            await asyncio.sleep(0.2)
        raise LocalBrokerError(
            f"Kafka broker did not come up within {self.start_timeout_s:.0f}s; "
            f"see {self.log_path}"
        )

    def _log_since_spawn(self) -> bytes:
        # A restarted node appends to its log, which already says "started" from before.
        with self.log_path.open("rb") as handle:
            handle.seek(max(self._log_mark, self.log_path.stat().st_size - 200_000))
            return handle.read()

    async def down(self, *, timeout_s: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL); True if one was running."""
        pid = self._read_pid()
        if pid is None or not _pid_alive(pid):
            self._pid_path.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not await self._wait_exit(pid, timeout_s):
            log.warning("broker ignored SIGTERM; killing it", pid=pid, waited_s=timeout_s)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            await self._wait_exit(pid, timeout_s)
        self._pid_path.unlink(missing_ok=True)
        log.info("kafka broker stopped", pid=pid)
        return True

    async def kill(self) -> None:
        """SIGKILL the broker, as a crash would (fault tests)."""
        pid = self._read_pid()
        if pid is not None and _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            await self._wait_exit(pid, 30.0)

    async def _wait_exit(self, pid: int, timeout_s: float) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            try:
                await asyncio.wait_for(self._proc.wait(), timeout_s)
            except TimeoutError:
                return False
            self._proc = None
            return True
        deadline = time.monotonic() + timeout_s
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    def wipe(self) -> None:
        """Delete the broker's data (only while it is stopped)."""
        if self.status().running:
            raise LocalBrokerError("refusing to wipe the data of a running broker; stop it first")
        shutil.rmtree(self._data_dir, ignore_errors=True)

