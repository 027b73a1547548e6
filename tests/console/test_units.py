"""The console's pure logic: sealed sessions, CSRF checks, languages, health, reasons."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from gateway.console.csrf import csrf_problem, same_origin
from gateway.console.deadletters import reasons_of
from gateway.console.i18n import MESSAGES, choose_language, translate
from gateway.console.overview import health_of
from gateway.console.session import Session, SessionSealer, load_session_key
from gateway.errors import ConfigError
from gateway.index.model import ServiceHealth
from gateway.replay.deadletters import DeadLetter

# --- sessions -------------------------------------------------------------------------------


def test_a_sealed_session_opens_again_and_hides_the_token() -> None:
    sealer = SessionSealer(Fernet.generate_key(), ttl_s=600)
    session = Session.start("lgsp_secret-token-value", now=1_000_000)
    value = sealer.seal(session)
    assert "lgsp_secret" not in value and session.csrf not in value
    opened = sealer.open(value, now=1_000_100)
    assert opened is not None
    assert (opened.token, opened.csrf) == (session.token, session.csrf)
    assert opened.started_at == 1_000_000


def test_a_session_past_its_ttl_or_tampered_with_or_from_another_key_is_none() -> None:
    key = Fernet.generate_key()
    sealer = SessionSealer(key, ttl_s=600)
    value = sealer.seal(Session.start("lgsp_t", now=1_000_000))
    assert sealer.open(value, now=1_000_601) is None
    flipped = value[:-5] + ("A" if value[-5] != "A" else "B") + value[-4:]
    assert sealer.open(flipped, now=1_000_001) is None
    assert SessionSealer(Fernet.generate_key(), 600).open(value, now=1_000_001) is None
    assert sealer.open("", now=1_000_001) is None
    assert sealer.open("not a cookie", now=1_000_001) is None


def test_every_session_gets_its_own_csrf_token() -> None:
    tokens = {Session.start("lgsp_t").csrf for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(t) >= 40 for t in tokens)


def test_the_session_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "console" / "session.key"
    first = load_session_key(path)
    assert load_session_key(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(first)  # a usable key
    path.write_text("not a key\n")
    with pytest.raises(ConfigError, match="not a Fernet key"):
        load_session_key(path)


# --- CSRF -----------------------------------------------------------------------------------

_HOST = dict(scheme="http", host="127.0.0.1:8083")


def test_a_post_needs_the_sessions_token() -> None:
    ok = csrf_problem(expected="abc123", sent="abc123", origin="http://127.0.0.1:8083",
                      referer=None, **_HOST)
    assert ok is None
    assert csrf_problem(expected="abc123", sent=None, origin=None, referer=None, **_HOST)
    assert csrf_problem(expected="abc123", sent="", origin=None, referer=None, **_HOST)
    assert csrf_problem(expected="abc123", sent="abc124", origin=None, referer=None,
                        **_HOST) == "missing or wrong CSRF token"


def test_a_post_from_another_origin_is_refused_even_with_the_token() -> None:
    def check(origin: str | None, referer: str | None) -> str | None:
        return csrf_problem(expected="tok", sent="tok", origin=origin, referer=referer, **_HOST)

    assert check("http://evil.example", None) == "Origin is another site"
    assert check("https://127.0.0.1:8083", None) == "Origin is another site"  # scheme counts
    assert check("http://127.0.0.1:9999", None) == "Origin is another site"  # port counts
    assert check("null", None) == "Origin is opaque"
    assert check(None, "http://evil.example/console/") == "Referer is another site"
    assert check(None, "http://127.0.0.1:8083/console/dead-letters") is None
    assert check(None, None) is None  # token alone (a browser that sends neither header)


def test_same_origin_compares_scheme_and_host_exactly() -> None:
    assert same_origin("http://LOCALHOST:8083", "http", "localhost:8083")
    assert not same_origin("http://localhost:8083.evil.example", "http", "localhost:8083")
    assert not same_origin("localhost:8083", "http", "localhost:8083")
    assert not same_origin("", "http", "localhost:8083")


# --- languages ------------------------------------------------------------------------------


def test_every_message_has_both_languages_and_vietnamese_has_its_diacritics() -> None:
    for key, (vi, en) in MESSAGES.items():
        assert vi.strip() and en.strip(), key
        assert set(re.findall(r"{(\w+)}", vi)) == set(re.findall(r"{(\w+)}", en)), key
    assert translate("vi", "nav.deadletters") == "Giao dịch lỗi"
    assert translate("en", "nav.deadletters") == "Dead letters"
    assert translate("vi", "signin.title") == "Đăng nhập"
    assert translate("en", "dl.list", shown=2, total=3) == "List (2 of 3)"


def test_every_message_a_template_names_is_in_the_catalogue() -> None:
    folder = Path(__file__).resolve().parents[2] / "gateway" / "console" / "templates"
    named = {key for html in folder.glob("*.html")
             for key in re.findall(r"""\bt\(\s*["']([a-z_]+\.[A-Za-z_.]+)["']""",
                                   html.read_text())}
    assert len(named) > 80
    assert sorted(named - set(MESSAGES)) == []


def test_the_language_comes_from_the_query_then_the_cookie_then_the_browser() -> None:
    cookie = {"lgsp_console_lang": "en"}
    assert choose_language({"lang": "vi"}, cookie, "en-US") == "vi"
    assert choose_language({}, cookie, "vi") == "en"
    assert choose_language({"lang": "fr"}, {}, "en-GB,en;q=0.9") == "en"
    assert choose_language({}, {}, "fr-FR,de;q=0.5") == "vi"
    assert choose_language({}, {"lgsp_console_lang": "xx"}, None) == "vi"


# --- what the pages show --------------------------------------------------------------------


def _health(successes: int, failures: int, last_ok: int | None, last_bad: int | None
            ) -> ServiceHealth:
    return ServiceHealth("QG.X", 3600, successes, failures, last_ok, last_bad, 1.0, 2.0, 3.0)


def test_a_service_is_down_while_held_failing_when_its_last_call_failed() -> None:
    assert health_of(_health(5, 0, 10, None), held=3, circuit_open=False) == "down"
    assert health_of(None, held=0, circuit_open=True) == "down"
    assert health_of(_health(5, 2, 10, 20), held=0, circuit_open=False) == "failing"
    assert health_of(_health(5, 2, 30, 20), held=0, circuit_open=False) == "degraded"
    assert health_of(_health(5, 0, 30, None), held=0, circuit_open=False) == "ok"
    assert health_of(None, held=0, circuit_open=False) == "idle"


def _dead(tx: str, error: str, message: str, service: str = "QG.A") -> DeadLetter:
    return DeadLetter(transaction_id=tx, partition=0, offset=0, timestamp_ms=0,
                      connector="one-stop", service=service, error_class=f"gateway.errors.{error}",
                      message=message, attempts=1, stage="forward", http_status=None,
                      failed_topic="t", replay_id=None)


def test_reasons_group_by_short_error_class_largest_first() -> None:
    groups = reasons_of([_dead("a", "RejectedError", "DATA_INCORRECT one"),
                         _dead("b", "NoRouteError", "no route"),
                         _dead("c", "RejectedError", "DATA_INCORRECT two", service="QG.B")])
    assert [(g.error_class, g.count) for g in groups] == [("RejectedError", 2),
                                                         ("NoRouteError", 1)]
    assert groups[0].services == ("QG.A", "QG.B")
    assert groups[0].example == "DATA_INCORRECT two"
