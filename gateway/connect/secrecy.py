"""What the connector runtime does with the secret keys of a config.

Three forms of one config:

- *submitted*: what an integrator sent; a secret key may hold a literal, a provider
  reference (`${env:NAME}`, `${file:...}`) or `[hidden]` (keep what is stored);
- *stored*: what the configs topic holds; literal secrets are sealed
  (`gateway.secrets.sealing`), references stay references;
- *resolved*: what the plugin's config model sees when the connector starts; sealed
  values opened, references read.

Answers of the API, the CLI and logs only ever see the *shown* form: every secret key
is `[hidden]`, Kafka Connect's word.
"""

from __future__ import annotations

__all__ = ["HIDDEN", "ConfigSecrets", "scrub"]

import os
from collections.abc import Iterable, Mapping
from typing import Any

from gateway.errors import (
    ConfigError,
    FieldProblem,
    SecretReferenceError,
    SecretsError,
)
from gateway.secrets import SecretBox, has_reference, is_sealed, resolve

HIDDEN = "[hidden]"
_MIN_SCRUB_LENGTH = 4  # shorter "secrets" would blank out ordinary words of a traceback


def scrub(text: str, secrets: Iterable[str]) -> str:
    """The text with every occurrence of a secret value replaced by `[hidden]`."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= _MIN_SCRUB_LENGTH:
            text = text.replace(secret, HIDDEN)
    return text


class ConfigSecrets:
    """Shows, keeps, seals and resolves the secret keys of connector configs."""

    def __init__(self, box: SecretBox, environ: Mapping[str, str] | None = None) -> None:
        self._box = box
        self._environ = environ

    @staticmethod
    def shown(config: Mapping[str, Any], secret_keys: frozenset[str]) -> dict[str, Any]:
        """The config as answers show it: every secret key `[hidden]`."""
        return {k: HIDDEN if k in secret_keys and v is not None else v
                for k, v in config.items()}

    @staticmethod
    def refuse_sealed(name: str, submitted: Mapping[str, Any]) -> None:
        """Sealed values are written by the gateway only; a submitted one is refused."""
        problems = tuple(
            FieldProblem(k, "a sealed value cannot be submitted; give the value, a "
                         "${env:...}/${file:...} reference, or [hidden] to keep the stored one")
            for k, v in submitted.items() if is_sealed(v)
        )
        if problems:
            raise ConfigError(f"invalid config for connector {name!r}", problems)

    @staticmethod
    def kept(name: str, submitted: Mapping[str, Any], stored: Mapping[str, Any] | None,
             secret_keys: frozenset[str]) -> dict[str, Any]:
        """The submitted config with each `[hidden]` secret replaced by the stored value."""
        merged = dict(submitted)
        problems: list[FieldProblem] = []
        for key, value in submitted.items():
            if value != HIDDEN or key not in secret_keys:
                continue
            if stored is not None and stored.get(key) is not None:
                merged[key] = stored[key]
            else:
                problems.append(FieldProblem(key, "[hidden] keeps the stored value, but none "
                                             "is stored; give the value or a reference"))
        if problems:
            raise ConfigError(f"invalid config for connector {name!r}", tuple(problems))
        return merged

    def sealed(self, name: str, config: Mapping[str, Any],
               secret_keys: frozenset[str]) -> dict[str, Any]:
        """The stored form: literal secrets sealed; references and sealed values as they are."""
        stored = dict(config)
        for key in secret_keys:
            value = stored.get(key)
            if isinstance(value, str) and value and not is_sealed(value) \
                    and not has_reference(value):
                stored[key] = self._box.seal(name, key, value)
        return stored

    def resolved(self, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """The resolved form; SecretsError naming the connector and the key."""
        return {key: self._resolve_one(name, key, value) for key, value in config.items()}

    def resolved_with_errors(
        self, name: str, config: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """What resolves, and key -> one-line reason for what does not (validation)."""
        out: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key, value in config.items():
            try:
                out[key] = self._resolve_one(name, key, value)
            except SecretsError as exc:
                errors[key] = exc.message
        return out, errors

    def resolved_or_problems(self, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """`resolved`, but failures are one ConfigError naming each key (API requests)."""
        out, errors = self.resolved_with_errors(name, config)
        if errors:
            raise ConfigError(f"invalid config for connector {name!r}",
                              tuple(FieldProblem(k, v) for k, v in errors.items()))
        return out

    def _resolve_one(self, name: str, key: str, value: Any) -> Any:
        if is_sealed(value):
            return self._box.open(name, key, value)
        if isinstance(value, str) and has_reference(value):
            try:
                return resolve(value, os.environ if self._environ is None else self._environ)
            except SecretReferenceError as exc:
                raise SecretReferenceError(f"connector {name!r}: {key}: {exc}") from exc
        return value

    @staticmethod
    def values(resolved: Mapping[str, Any], secret_keys: frozenset[str]) -> list[str]:
        """The plain secret values of a resolved config (to scrub them from traces)."""
        return [str(resolved[k]) for k in secret_keys if resolved.get(k) is not None]
