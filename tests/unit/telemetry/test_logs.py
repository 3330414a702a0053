"""Log lines: JSON objects with the request id and no exception message; tokens still redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from cds_server.auth.redaction import install_redaction
from cds_server.telemetry.logs import configure_logging

JWT = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    install_redaction()
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream, app_level="INFO")
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_event_with_the_request_id(json_lines: io.StringIO) -> None:
    app = Flask(__name__)
    log = logging.getLogger("cds_server.test")
    with app.test_request_context():
        from flask import g

        g.request_id = "req-123"
        log.info("model %s ready", "ascvd-pce", extra={"cds": {"model": "ascvd-pce"}})
    log.warning("outside a request")
    first, second = lines(json_lines)
    assert first["message"] == "model ascvd-pce ready"
    assert (first["level"], first["logger"], first["request_id"], first["model"]) == (
        "info", "cds_server.test", "req-123", "ascvd-pce",
    )  # fmt: skip
    assert "request_id" not in second
    assert str(first["ts"]).endswith("+00:00")


def test_an_exception_is_logged_as_its_type_and_frames_never_its_message(json_lines: io.StringIO) -> None:
    try:
        raise ValueError("patient Jane Doe, MRN 12345")
    except ValueError:
        logging.getLogger("cds_server.test").exception("failed")
    (line,) = lines(json_lines)
    assert line["exc_type"] == "ValueError"
    assert any("test_logs.py" in frame for frame in line["exc_frames"])  # type: ignore[union-attr]
    assert "Jane" not in json.dumps(line)
    assert "12345" not in json.dumps(line)


def test_tokens_are_redacted_in_json_lines_too(json_lines: io.StringIO) -> None:
    logging.getLogger("cds_server.test").warning("Authorization: Bearer %s", JWT)
    (line,) = lines(json_lines)
    assert JWT not in json.dumps(line)
    assert "[redacted]" in str(line["message"])


def test_text_lines_carry_the_request_id_too() -> None:
    stream = io.StringIO()
    handler = configure_logging("text", stream=stream, app_level="INFO")
    try:
        logging.getLogger("cds_server.test").info("hello")
    finally:
        logging.getLogger().removeHandler(handler)
    assert stream.getvalue().rstrip().endswith("INFO cds_server.test [-] hello")


def test_configuring_again_replaces_the_handler() -> None:
    first = configure_logging("text", stream=io.StringIO())
    second = configure_logging("json", stream=io.StringIO())
    try:
        root = logging.getLogger().handlers
        assert second in root
        assert first not in root
    finally:
        logging.getLogger().removeHandler(second)
