"""Kafka Connect's config provider references: `${env:NAME}`, `${file:/path:key}`, `${file:/path}`.

A connector config may hold references instead of values, so a Kubernetes Secret mounted
as a file or an environment variable never enters Kafka: the configs topic stores the
reference text, and the value is read when the connector starts or restarts.

- `${env:NAME}`: the environment variable NAME of the gateway process.
- `${file:/path/file.properties:key}`: the key in a Java properties file (Kafka Connect's
  FileConfigProvider).
- `${file:/path/file}`: the whole file, without one trailing newline (a mounted Secret key).

A reference may be the whole value or part of it (`jdbc:...password=${env:PW}`), as in
Kafka Connect. Unknown providers are left alone, so a value that merely looks like one
is not mangled.
"""

from __future__ import annotations

__all__ = ["PROVIDERS", "has_reference", "resolve"]

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from gateway.errors import SecretReferenceError

_REFERENCE = re.compile(r"\$\{(?P<provider>[A-Za-z][A-Za-z0-9_-]*):(?P<body>[^}]*)\}")
_MAX_FILE_BYTES = 1024 * 1024


def _from_env(body: str, environ: Mapping[str, str]) -> str:
    if not body:
        raise SecretReferenceError("${env:} needs a variable name")
    value = environ.get(body)
    if value is None:
        raise SecretReferenceError(f"environment variable {body} is not set")
    return value


def _read(path: Path) -> str:
    if not path.is_absolute():
        raise SecretReferenceError(f"file {path} must be an absolute path")
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretReferenceError(f"cannot read file {path}: {exc.strerror or exc}") from exc
    if len(data) > _MAX_FILE_BYTES:
        raise SecretReferenceError(f"file {path} is larger than 1 MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SecretReferenceError(f"file {path} is not UTF-8 text") from exc


def _properties(text: str) -> dict[str, str]:
    """The key/value pairs of a Java properties file (the common subset: no line joins)."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if match:
            found[match.group(1)] = match.group(2)
        else:
            found[line] = ""
    return found


def _from_file(body: str, _environ: Mapping[str, str]) -> str:
    path_text, sep, key = body.rpartition(":")
    if sep and path_text and "/" not in key:
        properties = _properties(_read(Path(path_text)))
        if key not in properties:
            raise SecretReferenceError(f"key {key} is not in file {path_text}")
        return properties[key]
    content = _read(Path(body))
    return content[:-1] if content.endswith("\n") else content


Provider = Callable[[str, Mapping[str, str]], str]
PROVIDERS: Mapping[str, Provider] = {"env": _from_env, "file": _from_file}
"""Provider name -> resolver of the reference body."""


def has_reference(value: str) -> bool:
    """Whether the value holds a reference to one of the known providers."""
    return any(m.group("provider") in PROVIDERS for m in _REFERENCE.finditer(value))


def resolve(value: str, environ: Mapping[str, str] | None = None) -> str:
    """The value with every known reference replaced by what it points to.

    Raises SecretReferenceError (one line, naming the variable or file, never a value).
    """
    env = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        provider = PROVIDERS.get(match.group("provider"))
        if provider is None:
            return match.group(0)
        return provider(match.group("body"), env)

    return _REFERENCE.sub(substitute, value)
