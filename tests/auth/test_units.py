"""Pure logic of authentication and the audit chain: role table, token store, JWTs."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from gateway.audit.chain import GENESIS, ChainHead, digest, seal, verify_chain
from gateway.audit.event import AuditEvent, Result
from gateway.audit.keys import SigningKey, load_public_keys
from gateway.auth import (
    ROLE_TABLE,
    Authenticator,
    JwksSource,
    OidcVerifier,
    Role,
    TokenStore,
    allows,
    ensure_first_admin,
    permission_for,
    read_admin_token,
    roles_at,
)
from gateway.contracts import Codec, SchemaRegistry
from gateway.errors import ConfigError, ForbiddenError, UnauthenticatedError, UnknownTokenError
from gateway.settings import AuthSettings, Settings
from tests.auth.jose import AUDIENCE, ISSUER, ProvinceIdp

# --- the role table ------------------------------------------------------------------------


def test_roles_grant_what_the_issue_says() -> None:
    assert all(allows(frozenset({r}), Role.VIEWER) for r in Role)
    assert allows(frozenset({Role.ADMIN}), Role.REPLAYER)
    assert not allows(frozenset({Role.OPERATOR}), Role.INTEGRATOR)
    assert not allows(frozenset({Role.INTEGRATOR}), Role.OPERATOR)
    assert not allows(frozenset({Role.VIEWER}), Role.REPLAYER)
    assert permission_for("PUT", "/connectors/{name}/pause").role is Role.OPERATOR
    assert permission_for("HEAD", "/connectors").role is Role.VIEWER
    assert permission_for("POST", "/replays").role is Role.REPLAYER
    assert permission_for("GET", "/transactions/{transaction_id}").role is Role.REPLAYER
    assert permission_for("DELETE", "/connectors/{name}").role is Role.INTEGRATOR
    # A router-only gateway's 409 for connector paths, whatever the method.
    assert permission_for("DELETE", "/connectors{tail}").role is Role.VIEWER
    # Anything the table does not name is closed to all but admin.
    assert permission_for("POST", "/something/new").role is Role.ADMIN
    changes = {p.action for p in ROLE_TABLE.values() if p.action}
    assert changes == {"connector.create", "connector.configure", "connector.pause",
                       "connector.resume", "connector.restart", "connector.delete",
                       "replay.start"}


# --- local tokens --------------------------------------------------------------------------


def test_the_store_keeps_only_salted_hashes_in_a_private_file(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "auth" / "tokens.json")
    token = store.create("ci-deploy", Role.INTEGRATOR)
    assert token is not None and token.startswith("lgsp_") and len(token) > 40
    text = store.path.read_text()
    assert token not in text and token.removeprefix("lgsp_") not in text
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    found = store.lookup(token)
    assert found is not None and (found.name, found.role) == ("ci-deploy", Role.INTEGRATOR)
    assert store.lookup(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert store.lookup("lgsp_") is None
    with pytest.raises(ConfigError, match="a token named ci-deploy exists"):
        store.create("ci-deploy", Role.VIEWER)
    with pytest.raises(ConfigError, match="must be 1-64 letters"):
        store.create("bad name", Role.VIEWER)


def test_expired_and_revoked_tokens_are_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("short", Role.VIEWER, datetime.now(UTC) + timedelta(minutes=5))
    assert token is not None
    assert store.lookup(token) is not None
    assert store.lookup(token, now=datetime.now(UTC) + timedelta(minutes=6)) is None
    reader = TokenStore(store.path)  # the gateway's own instance
    assert reader.lookup(token) is not None
    store.revoke("short")
    reader._checked = 0.0  # as if RELOAD_S had passed
    assert reader.lookup(token) is None
    with pytest.raises(UnknownTokenError, match=r"no token named short \(tokens: none\)"):
        store.revoke("short")


def test_the_first_start_creates_one_admin_token_and_never_again(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    path = ensure_first_admin(settings)
    assert path == tmp_path / "auth" / "admin.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = read_admin_token(tmp_path / "auth" / "tokens.json")
    assert token is not None
    assert TokenStore(tmp_path / "auth" / "tokens.json").lookup(token) is not None
    assert ensure_first_admin(settings) is None
    TokenStore(tmp_path / "auth" / "tokens.json").revoke("admin")
    assert not path.exists(), "a revoked token's plaintext must not stay on disk"
    assert ensure_first_admin(settings) is None, "not a first start any more"
    with_idp = Settings(state_dir=tmp_path / "other",
                        auth=AuthSettings(jwks="jwks.json", issuer="i", audience="a"))
    assert ensure_first_admin(with_idp) is None


def test_mode_none_only_on_loopback() -> None:
    with pytest.raises(ConfigError, match="LGSP_AUTH__MODE=none is refused"):
        Authenticator.from_settings(Settings(host="0.0.0.0", auth=AuthSettings(mode="none")))
    assert Authenticator.from_settings(Settings(host="127.0.0.1",
                                                auth=AuthSettings(mode="none"))).disabled
    with pytest.raises(ConfigError, match="LGSP_AUTH__MODE=oidc needs LGSP_AUTH__JWKS"):
        Authenticator.from_settings(Settings(auth=AuthSettings(mode="oidc")))
    with pytest.raises(ValidationError, match="https"):
        AuthSettings(jwks="http://idp.example.com/certs")
    assert AuthSettings(jwks="http://127.0.0.1:8080/certs").jwks


async def test_bad_credentials_all_get_the_same_answer(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens.json")
    token = store.create("v", Role.VIEWER)
    auth = Authenticator(store=store, oidc=None)
    principal = await auth.authenticate(f"Bearer {token}")
    assert principal.subject == "token:v"
    messages = set()
    for header in (None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer lgsp_nope",
                   "Bearer a.b.c", f"bearer {token}x"):
        with pytest.raises(UnauthenticatedError) as refused:
            await auth.authenticate(header)
        messages.add(str(refused.value))
    assert messages == {"authentication required: send Authorization: Bearer <token>",
                        "the token is not valid"}
    with pytest.raises(ForbiddenError, match="needs the operator role"):
        auth.authorize(principal, permission_for("PUT", "/connectors/{name}/pause"))


# --- identity-provider JWTs ----------------------------------------------------------------


def test_roles_come_from_a_dotted_claim_path() -> None:
    claims = {"realm_access": {"roles": ["operator", "uma_authorization"]}, "scope": "viewer x",
              "roles": "admin"}
    assert roles_at(claims, "realm_access.roles") == {Role.OPERATOR}
    assert roles_at(claims, "scope") == {Role.VIEWER}
    assert roles_at(claims, "roles") == {Role.ADMIN}
    assert roles_at(claims, "realm_access.missing") == frozenset()
    assert roles_at(claims, "scope.deeper") == frozenset()


@pytest.fixture
def idp(tmp_path: Path) -> ProvinceIdp:
    return ProvinceIdp(tmp_path)


def _verifier(idp: ProvinceIdp) -> OidcVerifier:
    return OidcVerifier(JwksSource(str(idp.jwks_path)), issuer=ISSUER,
                        audience=AUDIENCE, roles_claim="realm_access.roles", leeway_s=10)


async def test_provider_tokens_are_checked_on_every_claim(idp: ProvinceIdp) -> None:
    verifier = _verifier(idp)
    await verifier.jwks.load()
    for alg in ("RS256", "ES256"):
        principal = await verifier.verify(idp.token(["replayer"], alg=alg))
        assert (principal.subject, principal.roles) == ("oidc:nguyen.van.an",
                                                        frozenset({Role.REPLAYER}))
    now = int(datetime.now(UTC).timestamp())
    refused = {
        "forged": idp.forged(["admin"]),
        "alg none": idp.unsigned(["admin"]),
        "HS256 with the public key": idp.hmac_with_public_key(["admin"]),
        "expired": idp.token(["admin"], exp=now - 60),
        "not yet valid": idp.token(["admin"], nbf=now + 120),
        "wrong audience": idp.token(["admin"], aud="someone-else"),
        "wrong issuer": idp.token(["admin"], iss="https://evil.example"),
        "unknown kid": idp.token(["admin"], kid="rsa-9"),
        "garbage": "not.a.jwt",
    }
    for what, token in refused.items():
        with pytest.raises(UnauthenticatedError, match=r"^the token is not valid$"):
            await verifier.verify(token)
        assert what  # the loop names the case in a failure's locals
    # Inside the leeway: a token that expired 5 s ago still passes (clock skew).
    assert await verifier.verify(idp.token(["viewer"], exp=now - 5))


async def test_an_unknown_kid_refetches_the_keys_at_most_so_often(idp: ProvinceIdp) -> None:
    clock = [0.0]
    verifier = OidcVerifier(
        JwksSource(str(idp.jwks_path), refetch_min_s=30, clock=lambda: clock[0]),
        issuer=ISSUER, audience=AUDIENCE)
    await verifier.jwks.load()
    rotated = _signed_by_new_key(idp)
    with pytest.raises(UnauthenticatedError):
        await verifier.verify(rotated)  # not published yet; fetched again, still unknown
    idp.write_jwks(rotated=True)
    clock[0] = 10.0
    with pytest.raises(UnauthenticatedError):
        await verifier.verify(rotated)  # within 30 s of the last fetch: not fetched again
    clock[0] = 31.0
    assert (await verifier.verify(rotated)).subject == "oidc:nguyen.van.an"


def _signed_by_new_key(idp: ProvinceIdp) -> str:
    return jwt.encode(idp.claims(["viewer"]), idp.stranger, algorithm="RS256",
                      headers={"kid": "rsa-2"})


# --- the audit chain -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def codec() -> Codec:
    return Codec(SchemaRegistry.load(Settings().schemas_dir))


def _trail(codec: Codec, key: SigningKey, writers: int = 2, each: int = 3
           ) -> list[tuple[int, bytes]]:
    values: list[bytes] = []
    heads = [ChainHead(f"host:{n}:abcd", 0, GENESIS) for n in range(writers)]
    for i in range(each):
        for head in heads:
            if head.seq == 0 and values:
                head.prev = digest(values[-1])  # anchored on the topic's last record
            value = seal(codec, key, head, AuditEvent(
                subject="token:admin", action="connector.pause", target=f"connector c{i}",
                client="api@127.0.0.1", result=Result.SUCCESS, status=202))
            head.seq += 1
            head.prev = digest(value)
            values.append(value)
    return list(enumerate(values))


def test_the_chain_names_altered_deleted_and_inserted_records(codec: Codec,
                                                              tmp_path: Path) -> None:
    key = SigningKey.load_or_create(tmp_path / "signing.key")
    assert stat.S_IMODE((tmp_path / "signing.key").stat().st_mode) == 0o600
    keys = load_public_keys([tmp_path / "signing.pub"])
    trail = _trail(codec, key)
    assert verify_chain(codec, trail, keys) == (6, None)

    values = [v for _o, v in trail]
    datum = codec.decode(values[3])
    altered = codec.encode(codec.writer_of(values[3]), {**datum, "target": "connector evil"})
    count, broken = verify_chain(codec, list(enumerate([*values[:3], altered, *values[4:]])),
                                 keys)
    assert (count, broken and broken.offset, broken and broken.how) == (3, 3, "altered")

    count, broken = verify_chain(codec, list(enumerate([*values[:2], *values[3:]])), keys)
    assert broken is not None and (broken.offset, broken.how) == (3, "deleted"), broken
    assert "record 1 of host:0:abcd missing" in broken.reason

    forged = codec.encode(codec.writer_of(values[2]), {**codec.decode(values[2]),
                                                      "target": "token intruder"})
    count, broken = verify_chain(codec, list(enumerate([*values[:2], forged, *values[2:]])),
                                 keys)
    assert broken is not None and (broken.offset, broken.how) == (2, "inserted"), broken

    copy = verify_chain(codec, list(enumerate([*values[:4], values[2], *values[4:]])), keys)
    assert copy[1] is not None and (copy[1].offset, copy[1].how) == (4, "inserted")

    stranger = SigningKey.load_or_create(tmp_path / "other.key")
    _, broken = verify_chain(codec, _trail(codec, stranger), keys)
    assert broken is not None and broken.how in ("altered", "inserted")
    assert "is unknown" in broken.reason or "signature" in broken.reason
