"""Assertions about responses shared by the API tests."""

from __future__ import annotations

from typing import Any

from werkzeug.test import TestResponse

from cds_server.errors import ERROR_CODE_SYSTEM


def error_code(response: TestResponse) -> str:
    """The stable error code of an OperationOutcome response (asserting it is one)."""
    body: dict[str, Any] = response.get_json()
    assert response.mimetype == "application/json"
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"], "an OperationOutcome has at least one issue"
    coding = body["issue"][0]["details"]["coding"][0]
    assert coding["system"] == ERROR_CODE_SYSTEM
    return str(coding["code"])


def assert_operation_outcome(response: TestResponse, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert error_code(response) == code
