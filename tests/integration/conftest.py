"""Fixtures for tests against the real FHIR test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fault_proxy import FaultProxy
from tests.support.fhir_server import FhirTestServer


@pytest.fixture
def fault_proxy(fhir_server: FhirTestServer) -> Iterator[FaultProxy]:
    proxy = FaultProxy("127.0.0.1", fhir_server.port)
    try:
        yield proxy
    finally:
        proxy.close()
