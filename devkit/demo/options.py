"""Options of `python -m devkit.demo [run|stop]`, each with an `LGSP_` environment twin."""

from __future__ import annotations

__all__ = ["DemoOptions", "parse_args"]

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

from gateway.child_process import lgsp_command
from gateway.cli._types import non_negative_number, port, positive_number

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What the demo runs, where, and for how long."""

    once: bool
    home: Path
    bootstrap_servers: str | None
    gateway_port: int
    stub_port: int
    prometheus_port: int
    ioffice_port: int
    webhook_port: int
    duration_s: float
    rate: float
    outage_s: float
    summary_every_s: float
    idle_rate: float
    linger_s: float
    lgsp: tuple[str, ...]

    @property
    def logs(self) -> Path:
        """Where every process of the demo writes its log."""
        return self.home / "logs"

    @property
    def outage_at_s(self) -> float:
        """Seconds into the traffic when the national endpoint goes down.

        Early enough that traffic keeps flowing through the whole outage (so there is
        something to dead-letter) and after it (so recovery shows).
        """
        return max(2.0, (self.duration_s - self.outage_s) * 0.4)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line and exit code 2, like `lgsp`."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        sys.exit(2)


def _env(name: str, parse: Callable[[str], T], default: T) -> T:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse(raw)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise argparse.ArgumentTypeError(f"{name}={raw!r}: {exc}") from None


def _flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("expected 1/0, true/false, yes/no or on/off")


def _build(parser: _Parser) -> None:
    parser.add_argument("action", nargs="?", choices=["run", "stop"], default="run",
                        help="run the demo (default), or stop a demo running elsewhere "
                        "(what `make demo-stop` does)")
    parser.add_argument("--once", action="store_true", default=None,
                        help="run the story once, check Prometheus saw it, stop everything "
                        "and exit 0 (env LGSP_DEMO_ONCE=1); default: keep running until "
                        "Ctrl-C, printing a summary line now and then")
    state = Path(os.environ.get("LGSP_STATE_DIR") or ".lgsp")
    parser.add_argument("--dir", type=Path, default=None, metavar="DIR",
                        help=f"state and logs of the demo (env LGSP_DEMO_DIR, default "
                        f"{state / 'demo'}); its logs/, stub/, prometheus/ and reporting/ "
                        "are reset on every run")
    parser.add_argument("--bootstrap-servers", default=None, metavar="HOST:PORT",
                        help="use this Kafka broker instead of starting the local one "
                        "(env LGSP_BOOTSTRAP_SERVERS)")
    for name, default, what in (
        ("gateway-port", 8083, "gateway admin API, /metrics"),
        ("stub-port", 8090, "national-exchange stub"),
        ("prometheus-port", 9090, "Prometheus server"),
        ("ioffice-port", 8081, "simulated iOffice API"),
        ("webhook-port", 8181, "one-stop connector's webhook"),
    ):
        env = "LGSP_DEMO_" + name.upper().replace("-", "_")
        parser.add_argument(f"--{name}", type=port, default=None, metavar="N",
                            help=f"port of the {what} (env {env}, default {default}; a busy "
                            "default falls back to a free port; 0 always picks one)")
    parser.add_argument("--duration", type=positive_number, default=None, metavar="S",
                        help="seconds of traffic (env LGSP_DEMO_DURATION, default 90)")
    parser.add_argument("--rate", type=positive_number, default=None, metavar="N",
                        help="transactions per second across the three systems "
                        "(env LGSP_DEMO_RATE, default 30)")
    parser.add_argument("--outage", type=positive_number, default=None, metavar="S",
                        help="seconds the national endpoint is down during the traffic "
                        "(env LGSP_DEMO_OUTAGE, default 25)")
    parser.add_argument("--summary-every", type=positive_number, default=None, metavar="S",
                        help="seconds between summary lines while running on "
                        "(env LGSP_DEMO_SUMMARY_EVERY, default 15)")
    parser.add_argument("--idle-rate", type=non_negative_number, default=None, metavar="N",
                        help="iOffice documents per second after the story, so the "
                        "dashboards stay alive (env LGSP_DEMO_IDLE_RATE, default 0.5; 0: none)")
    parser.add_argument("--linger", type=non_negative_number, default=None, metavar="S",
                        help="with --once: keep everything up this many seconds after the "
                        "story before stopping, to look around or script checks "
                        "(env LGSP_DEMO_LINGER, default 0)")


_DEFAULT_PORTS = {"gateway_port": 8083, "stub_port": 8090, "prometheus_port": 9090,
                  "ioffice_port": 8081, "webhook_port": 8181}


def parse_args(argv: Sequence[str] | None = None) -> tuple[str, DemoOptions]:
    """The action (`run` or `stop`) and the options; usage errors exit 2 with one line."""
    parser = _Parser(prog="python -m devkit.demo",
                     description="The LGSP gateway demo (`make demo`): local Kafka broker, "
                     "national-exchange stub, simulated iOffice, one-stop and reporting "
                     "systems, the gateway and Prometheus; traffic, a national outage, "
                     "dead letters and their replay; then where to look.")
    _build(parser)
    args = parser.parse_args(argv)
    try:
        state = Path(os.environ.get("LGSP_STATE_DIR") or ".lgsp")
        ports = {key: getattr(args, key) if getattr(args, key) is not None
                 else _env("LGSP_DEMO_" + key.upper(), port, default)
                 for key, default in _DEFAULT_PORTS.items()}
        options = DemoOptions(
            once=args.once if args.once is not None else _env("LGSP_DEMO_ONCE", _flag, False),
            home=(args.dir or _env("LGSP_DEMO_DIR", Path, state / "demo")).absolute(),
            bootstrap_servers=args.bootstrap_servers
            or os.environ.get("LGSP_BOOTSTRAP_SERVERS") or None,
            duration_s=_pick(args.duration, "LGSP_DEMO_DURATION", positive_number, 90.0),
            rate=_pick(args.rate, "LGSP_DEMO_RATE", positive_number, 30.0),
            outage_s=_pick(args.outage, "LGSP_DEMO_OUTAGE", positive_number, 25.0),
            summary_every_s=_pick(args.summary_every, "LGSP_DEMO_SUMMARY_EVERY", positive_number,
                                  15.0),
            idle_rate=_pick(args.idle_rate, "LGSP_DEMO_IDLE_RATE", non_negative_number, 0.5),
            linger_s=_pick(args.linger, "LGSP_DEMO_LINGER", non_negative_number, 0.0),
            lgsp=lgsp_command(),
            **ports,
        )
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if options.outage_s > options.duration_s - 5:
        parser.error(f"--outage ({options.outage_s:g} s) must end at least 5 s before the "
                     f"traffic does (--duration {options.duration_s:g} s)")
    return args.action, options


def _pick(given: float | None, env: str, parse: Callable[[str], float], default: float
          ) -> float:
    return given if given is not None else _env(env, parse, default)
