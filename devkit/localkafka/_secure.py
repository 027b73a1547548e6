"""`lgsp kafka up --secure`: the local broker's SASL_SSL listener and its users.

The broker's one client listener becomes SASL_SSL (TLS with a certificate from the
development CA, then a SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN login); the KRaft
controller listener stays on loopback. Two users, with passwords generated once and kept
in `users.json` (mode 0600): `admin` (the broker itself, between its own listeners) and
`lgsp` (the gateway and the CLI). SCRAM credentials are created by Kafka's own storage
tool (`format --add-scram`), PLAIN ones by the JAAS configuration, both from the same
passwords. Client certificates from the same CA are accepted (mTLS) but not required.
"""

from __future__ import annotations

__all__ = ["CLIENT_USER", "SecureListener"]

import json
import os
import secrets
from pathlib import Path

from devkit.certs import DevCa

CLIENT_USER = "lgsp"
_ADMIN = "admin"
_SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule"
_PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"


class SecureListener:
    """TLS material, users and broker properties of the secure local broker."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ca = DevCa(directory, "LGSP local Kafka CA")

    @property
    def users_path(self) -> Path:
        """Where the generated passwords are kept."""
        return self.directory / "users.json"

    def users(self) -> dict[str, str]:
        """User name -> password; generated on first use."""
        try:
            found = json.loads(self.users_path.read_text())
            if isinstance(found, dict) and {_ADMIN, CLIENT_USER} <= found.keys():
                return {str(k): str(v) for k, v in found.items()}
        except (OSError, ValueError):
            pass
        users = {_ADMIN: secrets.token_urlsafe(24), CLIENT_USER: secrets.token_urlsafe(24)}
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.users_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(users, handle)
        return users

    def prepare(self) -> Path:
        """Write the CA, the broker's certificate and its PEM keystore; returns the keystore."""
        keystore = self.directory / "broker.keystore.pem"
        if not keystore.exists():
            issued = self.ca.issue("broker")
            self.ca.keystore(issued, keystore)
        self.users()
        return keystore

    def properties(self, port: int, controller_port: int) -> list[str]:
        """The listener lines of server.properties for the secure broker."""
        keystore = self.prepare()
        users = self.users()
        admin = users[_ADMIN]
        plain_users = " ".join(f'user_{name}="{password}"' for name, password in users.items())
        return [
            f"listeners=SASL_SSL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=SASL_SSL://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=SASL_SSL",
            "sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            f"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={_SCRAM} required "
            f'username="{_ADMIN}" password="{admin}";',
            f"listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config={_SCRAM} required;",
            f"listener.name.sasl_ssl.plain.sasl.jaas.config={_PLAIN} required "
            f'username="{_ADMIN}" password="{admin}" {plain_users};',
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={keystore}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.ca.cert_path}",
            "ssl.client.auth=requested",
            "ssl.endpoint.identification.algorithm=https",
            f"super.users=User:{_ADMIN}",
        ]

    def format_args(self) -> list[str]:
        """`kafka-storage format` options creating the SCRAM users (KRaft keeps them)."""
        args: list[str] = []
        for name, password in self.users().items():
            for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
                args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return args

    def client_settings(self) -> dict[str, str]:
        """The LGSP_KAFKA__* settings a gateway or CLI on this machine connects with."""
        return {
            "LGSP_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "LGSP_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "LGSP_KAFKA__SASL_USERNAME": CLIENT_USER,
            "LGSP_KAFKA__SASL_PASSWORD": self.users()[CLIENT_USER],
            "LGSP_KAFKA__SSL_CA_FILE": str(self.ca.cert_path),
        }
