from __future__ import annotations

import pytest

from tradewarden.telemetry import redact_secrets, redact_text, redact_url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer ***"),
        ("authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***"),
        ("{'Authorization': 'Token abc123'}", "{'Authorization': 'Token ***'}"),
        ("Proxy-Authorization: raw-credential", "Proxy-Authorization: ***"),
    ],
)
def test_authorization_header_value_is_masked_and_scheme_kept(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_bare_bearer_token_is_masked() -> None:
    assert redact_text("retrying with bearer tok_9f8e7d6c5b now") == "retrying with bearer *** now"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://user:secret@host/db", "postgresql://user:***@host/db"),
        (
            "postgresql+asyncpg://tw:s3cr%40t@db.internal:5432/tw",
            "postgresql+asyncpg://tw:***@db.internal:5432/tw",
        ),
        ("redis://:p@ss@cache:6379/0", "redis://:***@cache:6379/0"),
        ("dsn=postgres://u:pw@h/db", "dsn=***"),
        ("see 9http://u:pw@h/x", "see 9http://u:***@h/x"),
        ("(amqp://guest:guest@mq/)", "(amqp://guest:***@mq/)"),
        ("x" * 20_000 + " redis://:pw@h", "x" * 20_000 + " redis://:***@h"),
    ],
)
def test_url_password_is_masked_and_user_kept(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_url_without_credentials_is_unchanged() -> None:
    url = "https://user@host:8080/path?page=2#top"
    assert redact_url(url) == url


@pytest.mark.parametrize(
    "key",
    [
        "api-key", "api_key", "apikey", "key", "token", "access_token", "secret",
        "password", "auth", "signature", "sig", "x-api-key", "API-KEY", "Token",
    ],
)  # fmt: skip
def test_secret_query_value_is_masked_whatever_the_case(key: str) -> None:
    url = f"https://rpc.example/path?cluster=main&{key}=abc123&page=2"
    assert redact_url(url) == f"https://rpc.example/path?cluster=main&{key}=***&page=2"


def test_helius_api_key_is_masked() -> None:
    assert (
        redact_url("https://mainnet.helius-rpc.com/?api-key=abc")
        == "https://mainnet.helius-rpc.com/?api-key=***"
    )


def test_harmless_query_values_are_kept() -> None:
    url = "https://rpc.example/?monkey=1&status_code=200&max_tokens=5"
    assert redact_url(url) == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://eth-mainnet.g.alchemy.com/v2/abcdefghijklmnop1234",
            "https://eth-mainnet.g.alchemy.com/v2/***",
        ),
        (
            "https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef",
            "https://mainnet.infura.io/v3/***",
        ),
        (
            "https://purple-fog.solana-mainnet.quiknode.pro/0123456789abcdef0123/",
            "https://purple-fog.solana-mainnet.quiknode.pro/***/",
        ),
    ],
)
def test_rpc_provider_key_in_path_is_masked(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_jwt_is_masked() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    assert redact_text(f"session {jwt} expired") == "session *** expired"


def test_our_api_key_is_masked_but_short_lookalike_kept() -> None:
    assert redact_text("key tw_abcdefghij0123456789_-xyz used") == "key tw_*** used"
    assert redact_text("table tw_rules") == "table tw_rules"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("login failed: password=hunter2 user=bob", "login failed: password=*** user=bob"),
        ('{"password": "hunter 2", "count": 5}', '{"password": "***", "count": 5}'),
        ("{'client_secret': 'abc'}", "{'client_secret': '***'}"),
        ("Cookie: session=abc; theme=dark", "Cookie: ***"),
    ],
)
def test_secret_named_value_in_free_text_is_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_text_without_secrets_is_unchanged() -> None:
    text = "probe rpc.example answered in 120 ms: slot=2451 tokens_used=3 (ok)"
    assert redact_text(text) == text


def test_redaction_is_idempotent() -> None:
    text = "Authorization: Bearer abc password=x https://u:p@h/?api-key=k"
    assert redact_text(redact_text(text)) == redact_text(text)


def test_processor_masks_values_of_secret_keys_at_any_depth() -> None:
    event = {
        "event": "connect",
        "password": "hunter2",
        "admin_password": "hunter3",
        "empty_token": "",
        "dsn": None,
        "request": {
            "headers": {"Authorization": "Basic abc", "X-Api-Key": "k1", "Accept": "json"},
            "cookies": [("set-cookie", "sid=1"), ("accept", "json")],
        },
    }
    assert redact_secrets(None, "info", event) == {
        "event": "connect",
        "password": "***",
        "admin_password": "***",
        "empty_token": "",
        "dsn": None,
        "request": {
            "headers": {"Authorization": "***", "X-Api-Key": "***", "Accept": "json"},
            "cookies": [("set-cookie", "***"), ("accept", "json")],
        },
    }


def test_processor_redacts_text_in_message_and_nested_containers() -> None:
    event = {
        "event": "calling https://rpc.example/?api-key=SECRET123",
        "attempts": 3,
        "urls": ["postgresql://u:pw@db/x", ("Bearer tok_abcdef",)],
        "nested": {"note": "password=hunter2"},
    }
    assert redact_secrets(None, "info", event) == {
        "event": "calling https://rpc.example/?api-key=***",
        "attempts": 3,
        "urls": ["postgresql://u:***@db/x", ("Bearer ***",)],
        "nested": {"note": "password=***"},
    }


def test_processor_masks_header_pairs_spelled_as_in_a_serialized_asgi_scope() -> None:
    event = {"scope": {"headers": [["b'cookie'", "b'sid=abc'"], ["b'accept'", "b'*/*'"]]}}
    assert redact_secrets(None, "error", event) == {
        "scope": {"headers": [["b'cookie'", "***"], ["b'accept'", "b'*/*'"]]}
    }


def test_processor_renders_unknown_objects_redacted() -> None:
    event = {"event": "failed", "error": ValueError("token=abc")}
    assert redact_secrets(None, "error", event)["error"] == "ValueError('token=***')"


def test_processor_keeps_tuples_and_renders_sets_redacted() -> None:
    event = {"event": "x", "pair": ("a", "b", "token=abc"), "tags": {"token=abc"}}
    redacted = redact_secrets(None, "info", event)
    assert redacted["pair"] == ("a", "b", "token=***")
    assert redacted["tags"] == "{'token=***'}"
