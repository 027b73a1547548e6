"""Argument value types shared by the CLI's commands (and the demo's options): one wording
for every command."""

from __future__ import annotations

import argparse
import math


def port(text: str) -> int:
    """A TCP port, 0-65535 (0 lets the system pick a free one)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0-65535)")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1; `1_000_000` and `1,000,000` are read as written."""
    try:
        value = int(text.replace(",", "_"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def number(text: str) -> float:
    """A finite number (no nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_number(text: str) -> float:
    """A finite number above 0 (a rate, a duration)."""
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be positive")
    return value


def non_negative_number(text: str) -> float:
    """A finite number of 0 or more (0 usually meaning none)."""
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return value
