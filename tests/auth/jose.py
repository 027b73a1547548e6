"""An identity provider made in the test: RSA and EC keys (cryptography), a JWKS file,
and tokens signed (or mis-signed) with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.gov.vn/realms/camau"
AUDIENCE = "lgsp-gateway"


class ProvinceIdp:
    """Signs tokens as the province's identity provider would (Keycloak-shaped claims)."""

    def __init__(self, directory: Path) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwks_path = directory / "jwks.json"
        self.write_jwks()

    def write_jwks(self, *, rotated: bool = False) -> None:
        """The published key set; `rotated` adds a second RSA key under kid rsa-2."""
        keys = [self._jwk(self.rsa.public_key(), "rsa-1", "RS256"),
                self._jwk(self.ec.public_key(), "ec-1", "ES256")]
        if rotated:
            keys.append(self._jwk(self.stranger.public_key(), "rsa-2", "RS256"))
        self.jwks_path.write_text(json.dumps({"keys": keys}))

    @staticmethod
    def _jwk(public: Any, kid: str, alg: str) -> dict[str, Any]:
        algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(public))
        return {**jwk, "kid": kid, "alg": alg, "use": "sig"}

    def claims(self, roles: list[str], **override: Any) -> dict[str, Any]:
        """Valid claims of user `an` holding `roles` (in realm_access.roles)."""
        now = int(time.time())
        base: dict[str, Any] = {
            "iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "f3a1-an",
            "preferred_username": "nguyen.van.an", "iat": now, "nbf": now - 5,
            "exp": now + 300, "realm_access": {"roles": [*roles, "offline_access"]},
        }
        base.update(override)
        return base

    def token(self, roles: list[str], *, alg: str = "RS256", kid: str | None = None,
              **override: Any) -> str:
        """A token signed with the provider's RSA (RS256) or EC (ES256) key."""
        key = self.rsa if alg == "RS256" else self.ec
        kid = kid or ("rsa-1" if alg == "RS256" else "ec-1")
        return jwt.encode(self.claims(roles, **override), key, algorithm=alg,
                          headers={"kid": kid})

    def forged(self, roles: list[str]) -> str:
        """Signed by a key the provider never published, claiming kid rsa-1."""
        return jwt.encode(self.claims(roles), self.stranger, algorithm="RS256",
                          headers={"kid": "rsa-1"})

    def unsigned(self, roles: list[str]) -> str:
        """`alg: none`, no signature at all."""
        return _join({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, self.claims(roles), b"")

    def hmac_with_public_key(self, roles: list[str]) -> str:
        """HS256 keyed with the RSA public key's PEM: the classic algorithm confusion."""
        pem = self.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        head = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
        signing_input = f"{_b64(head)}.{_b64(self.claims(roles))}".encode()
        return _join(head, self.claims(roles), hmac.new(pem, signing_input,
                                                        hashlib.sha256).digest())


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _join(head: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    sig = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return f"{_b64(head)}.{_b64(claims)}.{sig}"
