"""The audit trail as FHIR R4 AuditEvent resources (IHE BALP shape) in a searchset Bundle.

One audit row becomes one AuditEvent:

* ``type`` rest, ``subtype`` the hook, ``action`` E (execute), ``period`` receipt → answer,
  ``recorded`` the row's server time, ``outcome`` 0/4/8/12 with the HTTP status and error code in
  ``outcomeDesc``;
* agents: the EHR client (JWT ``iss``, ``sub`` as ``altId``, the JWT ``jti`` as the policy
  ``urn:ietf:params:oauth:jti:{jti}``, BALP's minimal token reference), this server and service, and
  the user (``context.userId``, the requestor);
* entities: the patient, the X-Request-ID (BALP ``XrequestId``), the hookInstance with the tenant,
  replay flag, decision id and FHIR calls made (resource type → count), each model (id|version with
  SHA-256, execution provider, role), each card uuid.

Paging is by row id: ``_cursor`` is the last id of the previous page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import quote
from urllib.parse import urlencode

from sqlalchemy import select

from cds_server.persistence.database import Database
from cds_server.persistence.models import AuditEvent

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
BALP_ENTITY_TYPE = "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType"
HOOK_SYSTEM = "urn:cds-server:hook"
JTI_PREFIX = "urn:ietf:params:oauth:jti:"
DEFAULT_PAGE = 100
MAX_PAGE = 1000


@dataclass(frozen=True)
class AuditQuery:
    since: datetime | None = None
    until: datetime | None = None
    #: ``Patient/{id}``
    patient: str | None = None
    count: int = DEFAULT_PAGE
    cursor: int | None = None

    def params(self, *, cursor: int | None) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.since is not None:
            out["since"] = instant(self.since)
        if self.until is not None:
            out["until"] = instant(self.until)
        if self.patient is not None:
            out["patient"] = self.patient
        out["_count"] = str(self.count)
        if cursor is not None:
            out["_cursor"] = str(cursor)
        return out


def export_audit(database: Database, query: AuditQuery, *, base_url: str) -> dict[str, Any]:
    """One page of audit rows recorded in ``[since, until)`` as a searchset Bundle.

    :raise DatabaseUnavailable: the database cannot be read (503).
    """
    statement = select(AuditEvent).order_by(AuditEvent.id).limit(query.count + 1)
    if query.since is not None:
        statement = statement.where(AuditEvent.recorded_at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEvent.recorded_at < query.until)
    if query.patient is not None:
        statement = statement.where(AuditEvent.patient_ref == query.patient)
    if query.cursor is not None:
        statement = statement.where(AuditEvent.id > query.cursor)
    with database.read() as session:
        rows = list(session.scalars(statement))
    page, more = rows[: query.count], len(rows) > query.count
    links = [{"relation": "self", "url": _url(base_url, query.params(cursor=query.cursor))}]
    if more:
        links.append({"relation": "next", "url": _url(base_url, query.params(cursor=page[-1].id))})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": audit_event(row, site=base_url), "search": {"mode": "match"}} for row in page],
    }


def audit_event(row: AuditEvent, *, site: str) -> dict[str, Any]:
    """The FHIR R4 AuditEvent of one audit row."""
    outcome_desc = f"HTTP {row.status}" + (f" {row.error_code}" if row.error_code else "")
    return {
        "resourceType": "AuditEvent",
        "id": str(row.id),
        "type": {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "Restful Operation"},
        "subtype": [{"system": HOOK_SYSTEM, "code": row.hook}],
        "action": "E",
        "period": {
            "start": instant(row.received_at),
            "end": instant(row.received_at + timedelta(milliseconds=row.latency_ms)),
        },
        "recorded": instant(row.recorded_at),
        "outcome": str(row.outcome),
        "outcomeDesc": outcome_desc,
        "agent": _agents(row),
        "source": {
            "site": site,
            "observer": {"display": f"cds-server {row.server_version}"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
        "entity": _entities(row),
    }


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _agents(row: AuditEvent) -> list[dict[str, Any]]:
    client: dict[str, Any] = {
        "type": _concept(DCM, "110152", "Destination Role ID"),
        "who": {"identifier": {"system": "urn:cds-server:client-issuer", "value": row.client_issuer}},
        "requestor": row.user_ref is None,
    }
    if row.client_subject:
        client["altId"] = row.client_subject
    if row.token_jti:
        client["policy"] = [JTI_PREFIX + quote(row.token_jti, safe="")]
    server = {
        "type": _concept(DCM, "110153", "Source Role ID"),
        "who": {
            "identifier": {"system": "urn:cds-server:service", "value": row.service_id},
            "display": f"cds-server {row.server_version}",
        },
        "requestor": False,
    }
    agents = [client, server]
    if row.user_ref:
        agents.append(
            {
                "type": _concept(PARTICIPATION, "IRCP", "information recipient"),
                "who": {"reference": row.user_ref},
                "requestor": True,
            }
        )
    return agents


def _entities(row: AuditEvent) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if row.patient_ref:
        entities.append(
            {
                "what": {"reference": row.patient_ref},
                "type": _coding(ENTITY_TYPE, "1", "Person"),
                "role": _coding(OBJECT_ROLE, "1", "Patient"),
            }
        )
    entities.append(
        {
            "what": {"identifier": {"value": row.request_id}},
            "type": _coding(BALP_ENTITY_TYPE, "XrequestId"),
        }
    )
    details = [("replayed", str(row.replayed).lower())]
    if row.client_tenant:
        details.append(("tenant", row.client_tenant))
    if row.decision_id is not None:
        details.append(("decision", str(row.decision_id)))
    details.extend((f"fhirCalls.{kind}", str(count)) for kind, count in sorted(row.fhir_calls.items()))
    entities.append(
        {
            "what": {"identifier": {"system": "urn:cds-server:hook-instance", "value": row.hook_instance}},
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "20", "Job"),
            "detail": _details(details),
        }
    )
    for model in row.models:
        reference = f"{model['model_id']}|{model['version']}"
        provenance = [
            ("sha256", model["sha256"]),
            ("executionProvider", model["provider"]),
            ("role", model["role"]),
        ]
        entities.append(
            {
                "what": {"identifier": {"system": "urn:cds-server:model", "value": reference}},
                "type": _coding(ENTITY_TYPE, "2", "System Object"),
                "detail": _details(provenance),
            }
        )
    for card_uuid in row.card_uuids:
        entities.append(
            {
                "what": {"identifier": {"system": "urn:cds-server:card", "value": card_uuid}},
                "type": _coding(ENTITY_TYPE, "2", "System Object"),
                "role": _coding(OBJECT_ROLE, "3", "Report"),
            }
        )
    return entities


def _details(pairs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"type": name, "valueString": value} for name, value in pairs]


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [_coding(system, code, display)]}


def _url(base_url: str, params: dict[str, str]) -> str:
    return f"{base_url}/audit?{urlencode(params)}"
