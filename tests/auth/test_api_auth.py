"""Every admin operation against every kind of credential, on a real gateway.

The identity provider is made in the test (RSA and EC keys, a JWKS file); local tokens
are created in the gateway's token store, one per role. Each operation the gateway serves
(read from its own OpenAPI document) is called with no token, a forged signature,
`alg: none`, an expired token, a wrong audience, and each role as a local token and as a
provider JWT. Changes land on the signed audit trail with the authenticated subject.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from devkit.localkafka import free_port
from gateway.app import Gateway
from gateway.audit.chain import stored, verify_chain
from gateway.audit.keys import audit_key_file, load_public_keys
from gateway.audit.trail import read_trail
from gateway.auth import PUBLIC_PATHS, ROLES, Role, TokenStore, allows, tokens_file
from gateway.connect import PluginCatalog
from gateway.contracts import Codec
from gateway.settings import AuthSettings, Settings
from tests.auth.jose import AUDIENCE, ISSUER, ProvinceIdp

pytestmark = pytest.mark.integration

_PARAM = re.compile(r"\{([^}]+)\}")
_SAMPLE = {"name": "nobody", "plugin": "nobody", "replay_id": "rp-nope",
           "transaction_id": str(uuid.uuid4()), "word": "x"}


@pytest.fixture
def idp(tmp_path: Any) -> ProvinceIdp:
    return ProvinceIdp(tmp_path)


@pytest.fixture
async def secured(settings: Settings, catalog: PluginCatalog, idp: ProvinceIdp
                  ) -> AsyncIterator[tuple[Gateway, dict[Role, str]]]:
    """A whole gateway (connectors, router, replay) accepting local tokens and the IdP."""
    settings = settings.model_copy(update={"auth": AuthSettings(
        jwks=str(idp.jwks_path), issuer=ISSUER, audience=AUDIENCE,
        roles_claim="realm_access.roles")})
    store = TokenStore(tokens_file(settings))
    tokens = {role: store.create(f"t-{role.value}", role) or "" for role in ROLES}
    gateway = Gateway(settings, plugins=catalog)
    await gateway.start()
    try:
        yield gateway, tokens
    finally:
        await gateway.stop()


async def _call(session: aiohttp.ClientSession, url: str, method: str, path: str,
                token: str | None) -> tuple[int, dict[str, Any] | None, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body = b"{}" if method in ("POST", "PUT") else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    async with session.request(method, url + path, data=body, headers=headers) as resp:
        data = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, data, resp.headers.get("WWW-Authenticate", "")


async def test_every_operation_answers_every_credential_as_the_role_table_says(
    secured: tuple[Gateway, dict[Role, str]], idp: ProvinceIdp, codec: Codec
) -> None:
    gateway, local = secured
    url = gateway.url
    now = int(time.time())
    bad = {
        "no token": None,
        "bad signature": idp.forged(["admin"]),
        "alg none": idp.unsigned(["admin"]),
        "HS256 keyed with the public key": idp.hmac_with_public_key(["admin"]),
        "expired": idp.token(["admin"], exp=now - 600),
        "wrong audience": idp.token(["admin"], aud=["another-app"]),
        "unknown local token": "lgsp_" + "A" * 43,
    }
    async with aiohttp.ClientSession() as session:
        _status, doc, _ = await _call(session, url, "GET", "/openapi.json", local[Role.ADMIN])
        assert doc is not None
        operations = [(method.upper(), path, spec.get("x-required-role"))
                      for path, methods in doc["paths"].items()
                      for method, spec in methods.items()]
        assert len(operations) >= 19
        for method, template, required in operations:
            path = _PARAM.sub(lambda m: _SAMPLE[m.group(1)], template)
            if template in PUBLIC_PATHS:
                assert required is None
                status, _body, _ = await _call(session, url, method, path, None)
                assert status in (200, 503), (method, path, status)
                continue
            needed = Role(required)
            for what, token in bad.items():
                status, body, challenge = await _call(session, url, method, path, token)
                assert status == 401, (method, path, what, status, body)
                assert challenge.startswith("Bearer"), (method, path, what)
                assert body is not None and body["error_code"] == 401
                # Never which part was wrong: one of two fixed sentences.
                assert body["message"] in (
                    "authentication required: send Authorization: Bearer <token>",
                    "the token is not valid"), body
            for role in ROLES:
                jwt_token = idp.token([role.value], alg="ES256" if role is Role.VIEWER
                                      else "RS256")
                for kind, token in (("local", local[role]), ("jwt", jwt_token)):
                    status, body, _ = await _call(session, url, method, path, token)
                    case = (method, path, role.value, kind, status, body)
                    if allows(frozenset({role}), needed):
                        assert status not in (401, 403), case
                    else:
                        assert status == 403, case
                        assert body is not None and body["message"] == (
                            f"this operation needs the {needed.value} role (or admin)"), case

    # Every change attempt is on the signed trail: who, what, and how it ended.
    values = await read_trail(gateway.settings.bootstrap_servers, gateway.topics.audit)
    keys = load_public_keys([audit_key_file(gateway.settings)])
    assert verify_chain(codec, values, keys) == (len(values), None)
    records = [stored(o, codec.decode(v)) for o, v in values]
    pauses = [r for r in records if r.action == "connector.pause"]
    by_subject = {(r.subject, r.result.value) for r in pauses}
    assert ("token:t-viewer", "DENIED") in by_subject
    assert ("oidc:nguyen.van.an", "DENIED") in by_subject  # viewer, integrator, replayer
    assert ("token:t-operator", "FAILURE") in by_subject  # allowed; no such connector
    assert all(r.target == "connector nobody" and r.client == "api@127.0.0.1"
               for r in pauses)
    assert {r.action for r in records} >= {
        "connector.create", "connector.configure", "connector.pause", "connector.resume",
        "connector.restart", "connector.delete", "replay.start"}


async def test_metrics_also_on_a_port_of_their_own(settings: Settings,
                                                   catalog: PluginCatalog) -> None:
    gateway = Gateway(settings.model_copy(update={"metrics_port": free_port()}),
                      plugins=catalog)
    await gateway.start()
    try:
        assert gateway.metrics_url is not None
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{gateway.metrics_url}/metrics") as resp:
                assert resp.status == 200
                assert "lgsp_kafka_ready" in await resp.text()
            # Nothing but metrics there: Prometheus' port reaches no admin operation.
            for path in ("/connectors", "/openapi.json", "/replays"):
                async with session.get(f"{gateway.metrics_url}{path}") as resp:
                    assert resp.status == 404, path
            async with session.get(f"{gateway.url}/metrics") as resp:
                assert resp.status == 200, "still on the admin port too"
    finally:
        await gateway.stop()
