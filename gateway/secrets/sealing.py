"""Literal connector secrets at rest: sealed with AES-256-GCM before they reach Kafka.

The key is 32 random bytes, given as URL-safe base64 in `LGSP_SECRETS_KEY` or kept in a
key file (default `<state_dir>/secrets.key`, created with mode 0600 the first time a
secret is sealed). A sealed value is text that cannot be mistaken for a real one:

    ${sealed:v1:<key id>:<base64url(nonce || ciphertext+tag)>}

The key id (first 8 hex digits of the key's SHA-256) lets a wrong key be reported as
such instead of as damage. The connector name and the config key are bound in as
associated data, so a sealed value copied into another connector or key does not open.
"""

from __future__ import annotations

__all__ = ["SEALED_PREFIX", "SecretBox", "box_for", "generate_key", "is_sealed"]

import base64
import binascii
import hashlib
import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

from gateway.errors import SecretsKeyError

SEALED_PREFIX = "${sealed:v1:"
_SEALED = re.compile(r"^\$\{sealed:v1:(?P<kid>[0-9a-f]{8}):(?P<blob>[A-Za-z0-9_-]+={0,2})\}$")
_NONCE_BYTES = 12
_KEY_BYTES = 32


def generate_key() -> str:
    """A new random key as URL-safe base64 text (what LGSP_SECRETS_KEY takes)."""
    return base64.urlsafe_b64encode(os.urandom(_KEY_BYTES)).decode()


def is_sealed(value: object) -> bool:
    """Whether a stored config value is a sealed secret."""
    return isinstance(value, str) and value.startswith(SEALED_PREFIX)


def _decode_key(text: str, origin: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError) as exc:
        raise SecretsKeyError(f"the secrets key in {origin} is not URL-safe base64") from exc
    if len(key) != _KEY_BYTES:
        raise SecretsKeyError(
            f"the secrets key in {origin} must be {_KEY_BYTES} bytes (base64 of 32 random "
            f"bytes, e.g. from `python -c 'import secrets,base64; print(base64."
            f"urlsafe_b64encode(secrets.token_bytes(32)).decode())'`)"
        )
    return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class SecretBox:
    """Seals and opens connector secrets with the configured key.

    `key_text` (from LGSP_SECRETS_KEY) wins over `key_file`; without either, the first
    `seal` creates the key file. Opening never creates a key: a missing key is an error.
    """

    def __init__(self, key_text: str | None, key_file: Path) -> None:
        self._key_text = key_text
        self._key_file = key_file
        self._key: bytes | None = None

    @property
    def origin(self) -> str:
        """Where the key comes from, for messages."""
        return "LGSP_SECRETS_KEY" if self._key_text else str(self._key_file)

    def _load(self, *, create: bool) -> bytes:
        if self._key is not None:
            return self._key
        if self._key_text:
            self._key = _decode_key(self._key_text, "LGSP_SECRETS_KEY")
            return self._key
        try:
            text = self._key_file.read_text(encoding="ascii")
        except FileNotFoundError:
            if not create:
                raise SecretsKeyError(
                    f"no secrets key: set LGSP_SECRETS_KEY or provide {self._key_file}"
                ) from None
            text = self._create_key_file()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretsKeyError(f"cannot read the secrets key {self._key_file}: {exc}") from exc
        self._key = _decode_key(text, str(self._key_file))
        return self._key

    def _create_key_file(self) -> str:
        self._key_file.parent.mkdir(parents=True, exist_ok=True)
        text = generate_key()
        try:
            fd = os.open(self._key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            # Another process created it between our read and this open: use theirs.
            return self._key_file.read_text(encoding="ascii")
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(text + "\n")
        return text

    def seal(self, connector: str, key: str, value: str) -> str:
        """The sealed form of a secret value of `key` in `connector`."""
        secret = self._load(create=True)
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(secret).encrypt(nonce, value.encode(), _context(connector, key))
        blob = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{SEALED_PREFIX}{_key_id(secret)}:{blob}}}"

    def open(self, connector: str, key: str, sealed: str) -> str:
        """The plain value of a sealed secret; SecretsKeyError naming connector and key."""
        where = f"connector {connector!r}: {key} is sealed"
        match = _SEALED.match(sealed)
        if match is None:
            raise SecretsKeyError(f"{where} but the stored value is damaged")
        try:
            secret = self._load(create=False)
        except SecretsKeyError as exc:
            raise SecretsKeyError(f"{where} and cannot be opened: {exc}") from exc
        if match.group("kid") != _key_id(secret):
            raise SecretsKeyError(
                f"{where} with key {match.group('kid')}, but the secrets key in "
                f"{self.origin} is {_key_id(secret)} (wrong key)"
            )
        raw = base64.urlsafe_b64decode(match.group("blob").encode())
        try:
            plain = AESGCM(secret).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:],
                                           _context(connector, key))
        except InvalidTag as exc:
            raise SecretsKeyError(
                f"{where} but does not open with the key in {self.origin} (wrong key or a "
                f"value copied from another connector)"
            ) from exc
        return plain.decode()


def _context(connector: str, key: str) -> bytes:
    return f"lgsp-connector-secret\0{connector}\0{key}".encode()


def box_for(key_text: SecretStr | None, key_file: Path | None, state_dir: Path) -> SecretBox:
    """The SecretBox of the settings' key (LGSP_SECRETS_KEY) or key file."""
    return SecretBox(key_text.get_secret_value() if key_text is not None else None,
                     key_file or state_dir / "secrets.key")
