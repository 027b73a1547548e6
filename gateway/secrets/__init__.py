"""Connector secrets: config provider references and sealing at rest.

`references` resolves Kafka Connect's `${env:NAME}` / `${file:/path:key}` / `${file:/path}`
when a connector starts; `sealing` keeps literal secrets encrypted (AES-256-GCM) in the
configs topic. What the connector runtime does with them is in `gateway.connect.secrecy`.
"""

from gateway.secrets.references import has_reference, resolve
from gateway.secrets.sealing import SEALED_PREFIX, SecretBox, box_for, generate_key, is_sealed

__all__ = [
    "SEALED_PREFIX",
    "SecretBox",
    "box_for",
    "generate_key",
    "has_reference",
    "is_sealed",
    "resolve",
]
