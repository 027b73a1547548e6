"""The demo's one error type: a one-line reason, naming the log or the fix."""

from __future__ import annotations

__all__ = ["DemoError", "first_error"]

from gateway.errors import GatewayError


class DemoError(GatewayError):
    """The demo cannot go on; `str()` is one line saying why and where to look."""


def first_error(error: BaseException) -> BaseException:
    """The first leaf of a (nested) exception group, else the error itself.

    Task groups wrap a failing task's error; the demo reports that one error in one line.
    """
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error
