"""A new decision and its audit row in one statement, one round trip, on PostgreSQL.

The common call — a new hookInstance answered with cards — writes four things: the decision, its
cards, its model runs and the audit row. Sent one by one inside a transaction that is seven round
trips (BEGIN, four INSERTs, COMMIT) before the commit's fsync. Here it is one data-modifying CTE
executed in autocommit: PostgreSQL runs it as one transaction, so it commits (or fails) as a whole,
and the answer comes back with the commit.

The audit row is inserted only *from* the new decision (``FROM d``): when the unique index refuses
the decision (the same hookInstance decided concurrently or earlier), nothing at all is written
and the statement returns no row; the caller then takes the ordinary path, which reads the winner
and audits the call as a replay.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from cds_server.persistence.database import to_json

_STATEMENT = text(
    """
WITH d AS (
    INSERT INTO decision (created_at, request_id, client_issuer, client_tenant, service_id, hook,
                          hook_instance, patient_ref, response, inputs, inputs_sha256, outputs, models, notes)
    VALUES (:created_at, :request_id, :client_issuer, :client_tenant, :service_id, :hook, :hook_instance,
            :patient_ref, CAST(:response AS json), CAST(:inputs AS jsonb), :inputs_sha256,
            CAST(:outputs AS jsonb), CAST(:models AS jsonb), CAST(:notes AS jsonb))
    ON CONFLICT (client_issuer, client_tenant, service_id, hook, hook_instance) DO NOTHING
    RETURNING id
), cards AS (
    INSERT INTO decision_card (decision_id, position, card_uuid, client_issuer, client_tenant, service_id,
                               suggestion_uuids)
    SELECT d.id, c.position, c.card_uuid, :client_issuer, :client_tenant, :service_id, c.suggestion_uuids
    FROM d, jsonb_to_recordset(CAST(:cards AS jsonb))
         AS c(position int, card_uuid text, suggestion_uuids jsonb)
), runs AS (
    INSERT INTO decision_model (decision_id, model_id, version, sha256, provider, role)
    SELECT d.id, m.model_id, m.version, m.sha256, m.provider, m.role
    FROM d, jsonb_to_recordset(CAST(:models AS jsonb))
         AS m(model_id text, version text, sha256 text, provider text, role text)
)
INSERT INTO audit_event (recorded_at, received_at, request_id, client_issuer, client_subject, client_tenant,
                         token_jti, user_ref, patient_ref, service_id, hook, hook_instance, status, outcome,
                         error_code, latency_ms, replayed, decision_id, card_uuids, models, fhir_calls,
                         prefetch, server_version)
SELECT :recorded_at, :received_at, :request_id, :client_issuer, :client_subject, :client_tenant,
       :token_jti, :user_ref, :patient_ref, :service_id, :hook, :hook_instance, :status, :outcome,
       :error_code, :latency_ms, false, d.id, CAST(:card_uuids AS jsonb), CAST(:models AS jsonb),
       CAST(:fhir_calls AS jsonb), CAST(:prefetch AS jsonb), :server_version
FROM d
RETURNING decision_id
"""
)

#: the JSON-typed parameters, serialised here because a textual statement binds them as text
_JSON_PARAMETERS = (
    "response",
    "inputs",
    "outputs",
    "models",
    "notes",
    "cards",
    "card_uuids",
    "fhir_calls",
    "prefetch",
)


def insert_new_decision(connection: Connection, parameters: dict[str, Any]) -> int | None:
    """Run the statement on an autocommit connection; the new decision's id, or ``None`` on conflict."""
    bound = {
        name: (to_json(value) if name in _JSON_PARAMETERS and value is not None else value)
        for name, value in parameters.items()
    }
    row = connection.execute(_STATEMENT, bound).first()
    return None if row is None else int(row[0])
