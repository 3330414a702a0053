"""Schemathesis against ``/openapi.json``: generated calls, signed like an EHR's, never get a 5xx.

Each case gets a fresh client JWT for its exact URL (or the admin token on admin paths); every
non-2xx answer must be a FHIR OperationOutcome. Fixed seed and a bounded number of examples per
operation keep CI fast and failures reproducible.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import seed
from hypothesis import settings

from tests.conftest import AppFactory
from tests.support.clients import token_for

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "s" * 40
BASE = "http://127.0.0.1:8000"
ADMIN_PATHS = ("/audit", "/analytics/", "/admin/")
#: generated cases per operation (about 30 operations)
EXAMPLES = 12


@pytest.fixture
def api_app(make_app: AppFactory) -> Flask:
    return make_app(admin_token=ADMIN_TOKEN, reference_time="2020-06-01T00:00:00+00:00")


def operation_outcome_on_errors(response: Any, case: Any) -> None:
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where} answered {response.status_code}"
    if response.status_code >= 400:
        headers = {name.lower(): value for name, value in response.headers.items()}
        content_type = headers["content-type"]
        content_type = content_type[0] if isinstance(content_type, list) else content_type
        assert content_type.startswith("application/json"), where
        assert response.json()["resourceType"] == "OperationOutcome", where


def test_generated_calls_never_get_a_server_error(api_app: Flask) -> None:
    api = schemathesis.openapi.from_wsgi("/openapi.json", api_app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @seed(20260101)
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            path = case.formatted_path
            secret = ADMIN_TOKEN if path.startswith(ADMIN_PATHS) else token_for(BASE + path)
            response = case.call(headers={"Authorization": f"Bearer {secret}"})
            operation_outcome_on_errors(response, case)

        check()
