"""`lgsp plugin new`, as a new integrator meets it: generated, installed, tested, delivered.

The package is generated in a temporary folder outside the repository and installed
(built as a wheel, offline) into a fresh virtual environment beside the gateway: the
environment sees the gateway's own packages through a site directory, as a system-wide
install would. Its generated tests pass there, from its own folder, against the session
broker; then a gateway run from that environment publishes the plugin's records and the
stub receives them, once each, under a national service added by settings.
"""

from __future__ import annotations

import asyncio
import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.localkafka import free_port
from gateway.topics import Topics
from tests.conftest import BrokerHandle
from tests.support.cli import lgsp
from tests.support.pipeline import stub_stats
from tests.support.processes import ServerProcess, loopback_env, run_lgsp
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
NAME = "radio-licensing"
MODULE = "lgsp_radio_licensing_connector"
SERVICE = "QG.RADIOLICENSING.TIEPNHAN"
RECORDS = 30


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _fresh_venv(where: Path) -> Path:
    """A new virtual environment that sees this environment's packages; its python."""
    done = _run(sys.executable, "-m", "venv", "--without-pip", where)
    assert done.returncode == 0, done.stderr
    python = where / "bin" / "python"
    own = _run(python, "-c", "import site; print(site.getsitepackages()[0])")
    assert own.returncode == 0, own.stderr
    # addsitedir, not a plain path: the gateway's editable installs are .pth files there.
    Path(own.stdout.strip(), "lgsp-gateway-env.pth").write_text(
        f"import site; site.addsitedir({site.getsitepackages()[0]!r})\n")
    return python


async def test_a_generated_plugin_passes_its_tests_and_delivers_once_each(
    kafka: BrokerHandle, topics: Topics, tmp_path: Path
) -> None:
    assert not tmp_path.is_relative_to(REPO)
    made = lgsp("plugin", "new", NAME, "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    package = tmp_path / f"lgsp-{NAME}-connector"
    assert made.stdout.splitlines()[0] == f"wrote {package}"
    again = lgsp("plugin", "new", NAME, "--dir", str(tmp_path))
    assert again.returncode == 1
    assert again.stderr.strip() == f"lgsp: error: {package} exists already; choose another " \
        "--dir or remove it"

    python = _fresh_venv(tmp_path / "venv")
    installed = _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
                     "--no-index", "--no-build-isolation", "--disable-pip-version-check",
                     package)
    assert installed.returncode == 0, installed.stderr

    # Its generated tests, from its own folder, in its environment.
    test_env = loopback_env(log_format="json")
    test_env["LGSP_TEST_BOOTSTRAP_SERVERS"] = kafka.bootstrap
    tested = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package,
                  env=test_env, timeout=300)
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert "7 passed" in tested.stdout, tested.stdout[-2000:]
    # Clean as generated under the settings its pyproject carries (strict mypy).
    linted = _run(python, "-m", "ruff", "check", "--no-cache", ".", cwd=package)
    assert linted.returncode == 0, linted.stdout[-2000:]
    typed = _run(python, "-m", "mypy", "--no-incremental", cwd=package, timeout=300)
    assert typed.returncode == 0, typed.stdout[-2000:]

    # A gateway run from that environment, the stub, the plugin's fake source system.
    catalogue = json.dumps([{"code": SERVICE, "name": "Cấp phép tần số vô tuyến điện",
                             "owner_agency_code": "000.00.00.G12"}])
    stub_url = f"http://127.0.0.1:{free_port()}"
    admin = f"http://127.0.0.1:{free_port()}"
    env = loopback_env(bootstrap_servers=kafka.bootstrap, topic_prefix=topics.prefix,
                       state_dir=str(tmp_path / "state"), log_format="json",
                       ndxp__url=stub_url, port=admin.rsplit(":", 1)[1], url=admin,
                       catalogue__services=catalogue)
    stub = ServerProcess(["stub", "--port", stub_url.rsplit(":", 1)[1], "--data-dir",
                          str(tmp_path / "stub"), "--no-fsync"], env=env,
                         log_path=tmp_path / "stub.log", ready_prefix="NDXP stub listening")
    gateway = ServerProcess(["run"], env=env, log_path=tmp_path / "gateway.log",
                            ready_prefix="gateway ready", command=[str(python), "-m",
                                                                   "gateway.cli"])
    source = await asyncio.create_subprocess_exec(
        python, "-m", f"{MODULE}.fake_source", "--port", str(free_port()), "--count",
        str(RECORDS), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    try:
        assert source.stdout is not None
        ready = (await asyncio.wait_for(source.stdout.readline(), 30)).decode().strip()
        assert ready.startswith(f"fake {NAME} source listening on http://127.0.0.1:"), ready
        await stub.start()
        await gateway.start()
        created = await run_lgsp("connectors", "create", "--name", "radio", "--config-json",
                                 json.dumps({"connector.class": NAME,
                                             "source.agency.code": "000.00.00.H12",
                                             "source.url": ready.rsplit(" ", 1)[1],
                                             "poll.interval.ms": 200}), env=env)
        assert created.code == 0, created.err
        stats = await wait_for(
            lambda: stub_stats(stub_url),
            lambda s: s["by_service"].get(SERVICE, {}).get("unique") == RECORDS,
            timeout_s=60, interval_s=0.5, what=f"{RECORDS} records under {SERVICE}")
        await asyncio.sleep(1.0)  # nothing more may arrive
        stats = await stub_stats(stub_url)
        assert stats["by_service"][SERVICE]["unique"] == RECORDS
        assert stats["duplicates"] == 0
        assert stats["received"] == RECORDS
    finally:
        for server in (gateway, stub):
            if server.running:
                await server.stop()
        if source.returncode is None:
            source.kill()
        await source.wait()
    log = (tmp_path / "gateway.log").read_text()
    assert "catalogue does not list" not in log, "the added service is in the catalogue"
