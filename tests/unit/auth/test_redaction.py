"""The log redaction net: tokens, JWTs and canaries never reach a handler."""

from __future__ import annotations

import logging

import pytest

from cds_server.auth.redaction import REDACTED
from cds_server.auth.redaction import RedactingFilter
from cds_server.auth.redaction import install_redaction

JWT = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "text",
    [
        f"token {JWT} seen",
        "Authorization: Bearer tok-CANARY-1",
        "authorization=bearer tok-CANARY-1",
        '{"access_token": "tok-CANARY-1", "token_type": "Bearer"}',
        "access_token=tok-CANARY-1&x=1",
        "refresh_token: 'tok-CANARY-1'",
    ],
)
def test_secrets_are_masked(text: str) -> None:
    redacted = RedactingFilter().redact(text)
    assert "CANARY" not in redacted
    assert JWT not in redacted
    assert REDACTED in redacted


def test_configured_canaries_and_arguments_are_masked(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction(canaries=["MRN-CANARY-91532"])
    caplog.set_level(logging.INFO)
    logging.getLogger("some.library").info("patient %s with %s", "MRN-CANARY-91532", f"Bearer {JWT}")
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        logging.getLogger("some.library").exception("failed")
    assert "MRN-CANARY-91532" not in caplog.text
    assert JWT not in caplog.text
    assert "failed" in caplog.text


def test_ordinary_messages_are_unchanged() -> None:
    assert RedactingFilter().redact("GET /cds-services 200 in 3.1 ms") == "GET /cds-services 200 in 3.1 ms"
