"""An audit row as a FHIR R4 AuditEvent (IHE BALP shape), validated with fhir.resources R4B."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

from cds_server.persistence.audit_export import JTI_PREFIX
from cds_server.persistence.audit_export import audit_event
from cds_server.persistence.models import AuditEvent

RECEIVED = datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC)
MODEL = {
    "model_id": "pce-ascvd",
    "version": "2013.1",
    "sha256": "a1" * 32,
    "provider": "CPUExecutionProvider",
}


def row(**fields: Any) -> AuditEvent:
    values: dict[str, Any] = {
        "id": 41,
        "recorded_at": RECEIVED.replace(microsecond=262000),
        "received_at": RECEIVED,
        "request_id": "b0b5f3c2a1",
        "client_issuer": "https://ehr.example.org/fhir",
        "client_subject": "client-id-1",
        "client_tenant": "north",
        "token_jti": "jti with spaces/and:colons",
        "user_ref": "Practitioner/example",
        "patient_ref": "Patient/1288992",
        "service_id": "ascvd",
        "hook": "patient-view",
        "hook_instance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "status": 200,
        "outcome": 0,
        "error_code": None,
        "latency_ms": 11.5,
        "replayed": False,
        "decision_id": 7,
        "card_uuids": ["c1", "c2"],
        "models": [{**MODEL, "role": "active"}, {**MODEL, "version": "2024.0", "role": "shadow"}],
        "fhir_calls": {"Observation": 2, "Condition": 1},
        "prefetch": [{"key": "patient", "source": "prefetch"}],
        "server_version": "0.1.0",
    }
    values.update(fields)
    return AuditEvent(**values)


def validated(resource: dict[str, Any]) -> FhirAuditEvent:
    return FhirAuditEvent.model_validate(resource)


def entity_values(resource: dict[str, Any], system: str) -> list[str]:
    return [
        e["what"]["identifier"]["value"]
        for e in resource["entity"]
        if e["what"].get("identifier", {}).get("system") == system
    ]


def test_a_full_row_is_a_valid_audit_event() -> None:
    resource = audit_event(row(), site="https://cds.example.org")
    event = validated(resource)
    assert event.outcome == "0"
    assert event.action == "E"
    assert resource["recorded"] == "2026-11-01T12:00:00.262000Z"
    assert resource["period"] == {
        "start": "2026-11-01T12:00:00.250000Z",
        "end": "2026-11-01T12:00:00.261500Z",
    }
    assert resource["subtype"] == [{"system": "urn:cds-server:hook", "code": "patient-view"}]
    assert entity_values(resource, "urn:cds-server:card") == ["c1", "c2"]
    assert entity_values(resource, "urn:cds-server:model") == ["pce-ascvd|2013.1", "pce-ascvd|2024.0"]
    assert entity_values(resource, "urn:cds-server:hook-instance") == ["d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"]


def test_agents_client_server_user() -> None:
    client, server, user = audit_event(row(), site="https://cds.example.org")["agent"]
    assert client["who"]["identifier"]["value"] == "https://ehr.example.org/fhir"
    assert client["altId"] == "client-id-1"
    assert client["policy"] == [JTI_PREFIX + "jti%20with%20spaces%2Fand%3Acolons"]
    assert client["requestor"] is False
    assert server["who"]["identifier"]["value"] == "ascvd"
    assert user["who"]["reference"] == "Practitioner/example"
    assert user["requestor"] is True


def test_patient_entity_and_request_id() -> None:
    entities = audit_event(row(), site="https://cds.example.org")["entity"]
    assert entities[0]["what"] == {"reference": "Patient/1288992"}
    assert entities[0]["role"]["code"] == "1"
    assert entities[1]["what"]["identifier"]["value"] == "b0b5f3c2a1"
    assert entities[1]["type"]["code"] == "XrequestId"
    details = {d["type"]: d["valueString"] for d in entities[2]["detail"]}
    assert details == {
        "replayed": "false",
        "tenant": "north",
        "decision": "7",
        "fhirCalls.Condition": "1",
        "fhirCalls.Observation": "2",
    }


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [(412, 4, "prefetch-unavailable"), (503, 8, "audit-unavailable"), (500, 12, "internal-error")],
)
def test_failed_calls_from_an_anonymous_client(status: int, outcome: int, code: str) -> None:
    minimal = row(
        client_issuer="urn:cds-server:anonymous",
        client_subject=None,
        client_tenant="",
        token_jti=None,
        user_ref=None,
        patient_ref=None,
        status=status,
        outcome=outcome,
        error_code=code,
        decision_id=None,
        card_uuids=[],
        models=[],
        fhir_calls={},
    )
    resource = audit_event(minimal, site="http://127.0.0.1:8000")
    event = validated(resource)
    assert event.outcome == str(outcome)
    assert resource["outcomeDesc"] == f"HTTP {status} {code}"
    (client, _server) = resource["agent"]
    assert client["requestor"] is True
    assert "policy" not in client
