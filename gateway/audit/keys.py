"""The gateway's Ed25519 signing key for the audit trail (`cryptography`).

Kept as an unencrypted PKCS#8 PEM file, mode 0600, created on first use; in Kubernetes
it comes from a Secret shared by every replica. The public half is written beside it
(`signing.pub`) for verifiers that must not hold the private key.
"""

from __future__ import annotations

__all__ = ["SigningKey", "audit_key_file", "key_id", "load_public_keys", "signature_valid"]

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.auth.tokens import write_private
from gateway.errors import AuditError
from gateway.settings import Settings


def audit_key_file(settings: Settings) -> Path:
    """Where the signing key of these settings lives."""
    return settings.auth.audit_key_file or settings.state_dir / "audit" / "signing.key"


def key_id(public: Ed25519PublicKey) -> str:
    """The key's short id: the first 16 bytes (hex) of the SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key and its id."""

    private: Ed25519PrivateKey
    key_id: str

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `data`."""
        return self.private.sign(data)

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key in `path`, created (0600) if the file does not exist."""
        if not path.exists():
            private = Ed25519PrivateKey.generate()
            write_private(path, private.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()))
            public_pem = private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            path.with_suffix(".pub").write_bytes(public_pem)
            return cls(private, key_id(private.public_key()))
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise AuditError(f"cannot read the audit signing key {path}: {exc}") from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise AuditError(f"the audit signing key {path} is not an Ed25519 key")
        return cls(loaded, key_id(loaded.public_key()))


def load_public_keys(paths: list[Path]) -> dict[str, Ed25519PublicKey]:
    """Public keys by id, from PEM files holding a public or a private Ed25519 key."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise AuditError(f"cannot read the key {path}: {exc.strerror}") from exc
        public: object
        try:
            public = serialization.load_pem_public_key(data)
        except ValueError:
            try:
                public = serialization.load_pem_private_key(data, password=None).public_key()
            except (ValueError, TypeError) as exc:
                raise AuditError(f"{path} holds no PEM Ed25519 key") from exc
        if not isinstance(public, Ed25519PublicKey):
            raise AuditError(f"{path} holds no Ed25519 key")
        keys[key_id(public)] = public
    return keys


def signature_valid(public: Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is `public`'s signature of `data`."""
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True
