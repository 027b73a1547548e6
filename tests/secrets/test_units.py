"""Config provider references, sealing at rest, and which keys are secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from connectors.ioffice.config import IOfficeConfig
from connectors.one_stop.config import OneStopConfig
from gateway.connect.secrecy import HIDDEN, ConfigSecrets, scrub
from gateway.errors import ConfigError, SecretReferenceError, SecretsKeyError
from gateway.secrets import SecretBox, generate_key, has_reference, is_sealed, resolve


def test_env_and_file_references_resolve(tmp_path: Path) -> None:
    props = tmp_path / "creds.properties"
    props.write_text("# comment\nuser=alice\npassword = p@ss:word\n")
    whole = tmp_path / "token"
    whole.write_text("tok-123\n")
    env = {"PW": "from-env"}
    assert resolve("${env:PW}", env) == "from-env"
    assert resolve(f"${{file:{props}:password}}", env) == "p@ss:word"
    assert resolve(f"${{file:{whole}}}", env) == "tok-123"
    assert resolve("jdbc:x?user=${env:PW}&y", env) == "jdbc:x?user=from-env&y"
    assert resolve("${vault:kept/as/is}", env) == "${vault:kept/as/is}"
    assert has_reference("${env:PW}") and not has_reference("${vault:x}")


@pytest.mark.parametrize(("value", "says"), [
    ("${env:NOPE}", "environment variable NOPE is not set"),
    ("${file:/nonexistent/x:key}", "cannot read file /nonexistent/x"),
    ("${file:relative.txt}", "must be an absolute path"),
])
def test_unresolvable_references_say_why_without_values(value: str, says: str) -> None:
    with pytest.raises(SecretReferenceError, match=says):
        resolve(value, {})


def test_missing_property_key(tmp_path: Path) -> None:
    props = tmp_path / "p.properties"
    props.write_text("a=1\n")
    with pytest.raises(SecretReferenceError, match="key b is not in file"):
        resolve(f"${{file:{props}:b}}", {})


def test_sealing_round_trip_and_key_file_mode(tmp_path: Path) -> None:
    box = SecretBox(None, tmp_path / "state" / "secrets.key")
    sealed = box.seal("conn", "webhook.secret", "the-plain-secret")
    assert is_sealed(sealed) and "the-plain-secret" not in sealed
    assert stat.S_IMODE((tmp_path / "state" / "secrets.key").stat().st_mode) == 0o600
    # A second box (a restarted gateway) reads the same key file.
    again = SecretBox(None, tmp_path / "state" / "secrets.key")
    assert again.open("conn", "webhook.secret", sealed) == "the-plain-secret"
    with pytest.raises(SecretsKeyError, match="copied from another connector"):
        again.open("other", "webhook.secret", sealed)


def test_wrong_or_missing_key_is_one_line_naming_the_connector(tmp_path: Path) -> None:
    sealed = SecretBox(generate_key(), tmp_path / "unused").seal("c1", "api.token", "x" * 20)
    with pytest.raises(SecretsKeyError, match=r"connector 'c1': api.token .*wrong key"):
        SecretBox(generate_key(), tmp_path / "unused").open("c1", "api.token", sealed)
    with pytest.raises(SecretsKeyError, match=r"connector 'c1'.*no secrets key"):
        SecretBox(None, tmp_path / "absent.key").open("c1", "api.token", sealed)
    with pytest.raises(SecretsKeyError, match="32 bytes"):
        SecretBox("c2hvcnQ=", tmp_path / "unused").seal("c1", "k", "v")


def test_built_in_secret_keys() -> None:
    assert "webhook.secret" in OneStopConfig.secret_keys()
    assert "api.token" in IOfficeConfig.secret_keys()
    assert "api.key.header" not in IOfficeConfig.secret_keys()


def test_hidden_keeps_the_stored_value_and_refuses_without_one(tmp_path: Path) -> None:
    keys = frozenset({"api.token"})
    secrets = ConfigSecrets(SecretBox(generate_key(), tmp_path / "k"))
    stored = secrets.sealed("c", {"api.token": "tok-abcdef", "x": "1"}, keys)
    assert ConfigSecrets.shown(stored, keys) == {"api.token": HIDDEN, "x": "1"}
    kept = ConfigSecrets.kept("c", {"api.token": HIDDEN, "x": "2"}, stored, keys)
    assert kept["api.token"] == stored["api.token"]
    assert secrets.resolved("c", kept) == {"api.token": "tok-abcdef", "x": "2"}
    with pytest.raises(ConfigError, match=r"api\.token: \[hidden\] keeps the stored value"):
        ConfigSecrets.kept("c", {"api.token": HIDDEN}, None, keys)
    with pytest.raises(ConfigError, match=r"api\.token: a sealed value cannot be submitted"):
        ConfigSecrets.refuse_sealed("c", stored)
    assert scrub("Bearer tok-abcdef failed", ["tok-abcdef"]) == "Bearer [hidden] failed"
