"""Shared pieces of the CLI: a parser whose errors are one line, and handler typing."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from gateway.kafka import use_security
from gateway.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class CommandParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Settings from `--config` (if the command has it), environment and CLI overrides."""
    config: Path | None = getattr(args, "config", None)
    settings = load_settings(config, **overrides)
    # Every Kafka client this command makes connects with the settings' TLS and SASL.
    use_security(settings.kafka)
    return settings


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """`--config FILE`: a TOML file with settings (env LGSP_* values override it)."""
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="TOML settings file; LGSP_* environment variables override it")
