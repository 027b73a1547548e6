"""A development certificate authority: the local broker's and the stub's TLS material.

Generated with `cryptography` into the state dir, once: a CA (`ca.pem`, `ca.key`) and
certificates it signs for 127.0.0.1/localhost (servers) or for a name (client
certificates for mTLS). Private keys are written with mode 0600. Never for production:
there, certificates come from the province's PKI or cert-manager.
"""

from __future__ import annotations

__all__ = ["DevCa", "Issued"]

import contextlib
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_LOOPBACK_NAMES = ("localhost",)
_LOOPBACK_IPS = ("127.0.0.1", "::1")


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class DevCa:
    """A CA kept in `directory` (created on first use) that issues loopback certificates."""

    def __init__(self, directory: Path, name: str = "LGSP development CA") -> None:
        self.directory = directory
        self.name = name

    @property
    def cert_path(self) -> Path:
        """The CA certificate clients trust (kafka.ssl_ca_file, ndxp.ssl_ca_file)."""
        return self.directory / "ca.pem"

    def _ensure(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key_path = self.directory / "ca.key"
        if self.cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), None)
            assert isinstance(key, ec.EllipticCurvePrivateKey)
            return cert, key
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.name)])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(key))
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert, key

    def issue(
        self,
        name: str,
        *,
        client: bool = False,
        valid_from: datetime | None = None,
        valid_until: datetime | None = None,
    ) -> Issued:
        """A certificate for a loopback server (SANs 127.0.0.1, ::1, localhost) or a client.

        Written as `<name>.pem` and `<name>.key`; `valid_until` in the past makes an
        expired certificate (tests).
        """
        ca_cert, ca_key = self._ensure()
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        start = valid_from or now - timedelta(minutes=5)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(valid_until or now + timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
        )
        if not client:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in _LOOPBACK_NAMES]
                + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in _LOOPBACK_IPS]
            ), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        issued = Issued(self.directory / f"{name}.pem", self.directory / f"{name}.key")
        _write_private(issued.key, _key_pem(key))
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return issued

    def keystore(self, issued: Issued, path: Path) -> Path:
        """A PEM keystore (key, then certificate chain) as Kafka's ssl.keystore.type=PEM reads."""
        chain = issued.cert.read_bytes() + self.cert_path.read_bytes()
        _write_private(path, issued.key.read_bytes() + chain)
        return path
