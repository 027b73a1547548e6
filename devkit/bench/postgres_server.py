"""A throw-away PostgreSQL server (tests, `lgsp bench --scenarios index`): on loopback,
on a free port, in a temporary data directory, for the whole session.

The binaries come from Debian's `postgresql` package (scripts/install-tools.sh installs
it). PostgreSQL refuses to run as root, so as root (CI containers) the server runs as
the `postgres` user the package creates (or `nobody`), via runuser.
"""

from __future__ import annotations

__all__ = ["PostgresServer", "postgres_bin_dir"]

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from devkit.localkafka import free_port

_SUPERUSER = "lgsp"


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are (the newest installed major version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name
                   .isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _run_as() -> tuple[list[str], int | None, int | None]:
    """The command prefix and uid/gid to run the server as (nothing unless root)."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            user = pwd.getpwnam(name)
            return ["runuser", "-u", name, "--"], user.pw_uid, user.pw_gid
    raise RuntimeError("running as root and neither a postgres nor a nobody user exists")


class PostgresServer:
    """One throw-away PostgreSQL server; `url(db)` for a database on it."""

    def __init__(self) -> None:
        bindir = postgres_bin_dir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/"
                               "initdb): run `make tools` (scripts/install-tools.sh)")
        self._bin = bindir
        self._prefix, uid, gid = _run_as()
        # Not under pytest's tmp dir: that is private to root, and the server runs as
        # another user when we are root.
        self.home = Path(tempfile.mkdtemp(prefix="lgsp-pg-"))
        if uid is not None and gid is not None:
            os.chown(self.home, uid, gid)
        self.data = self.home / "data"
        self.port = free_port()
        self.host = "127.0.0.1"

    def _cmd(self, tool: str, *args: str) -> list[str]:
        return [*self._prefix, str(self._bin / tool), *args]

    def start(self) -> None:
        """initdb, then start the server and wait until it accepts connections."""
        subprocess.run(self._cmd("initdb", "-D", str(self.data), "-U", _SUPERUSER,
                                 "--auth=trust", "-E", "UTF8", "--no-sync"),
                       check=True, capture_output=True, timeout=120)
        # Durability is not what the tests are about: skip the fsyncs.
        options = (f"-c listen_addresses={self.host} -p {self.port} -k {self.home} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        done = subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-o", options,
                                        "-l", str(self.home / "server.log"), "-w", "-t", "60",
                                        "start"),
                              capture_output=True, timeout=90, check=False)
        if done.returncode != 0:
            log = (self.home / "server.log").read_text(errors="replace")[-2000:] \
                if (self.home / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.decode(errors='replace')}"
                               f" {log}")

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"),
                       capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.home, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        """A connection URL for a database on this server."""
        return f"postgresql://{_SUPERUSER}@{self.host}:{self.port}/{database}"
