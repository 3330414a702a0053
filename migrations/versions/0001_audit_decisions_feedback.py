"""Audit trail, decision records with their cards and models, feedback.

``audit_event`` is append-only for everyone, the application included: triggers refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL). Dropping the table in :func:`downgrade` fires none of them.

Revision ID: 0001
Revises:
Created: 2025-06-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

# One statement per execute: psycopg 3 sends parameterised statements one at a time.
_PG_APPEND_ONLY = (
    """CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING
            MESSAGE = 'audit_event is append-only: ' || TG_OP || ' refused',
            ERRCODE = 'insufficient_privilege';
    END
    $$""",
    """CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()""",
    """CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()""",
)

_SQLITE_APPEND_ONLY = (
    """CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: DELETE refused'); END""",
)


def _client_columns() -> list[sa.Column[str]]:
    return [
        sa.Column("client_issuer", sa.String(2048), nullable=False),
        sa.Column("client_tenant", sa.String(512), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "decision",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        *_client_columns(),
        sa.Column("hook", sa.String(128), nullable=False),
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("patient_ref", sa.String(512), nullable=True),
        # json, not jsonb: the text is kept as written, so a replay returns the keys in their order
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("inputs", JSON_DOC, nullable=True),
        sa.Column("inputs_sha256", sa.String(64), nullable=True),
        sa.Column("inputs_purged_at", TIMESTAMP, nullable=True),
        sa.Column("outputs", JSON_DOC, nullable=True),
        sa.Column("models", JSON_DOC, nullable=False),
        sa.Column("notes", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decision"),
    )
    op.create_index(
        "uq_decision_call",
        "decision",
        ["client_issuer", "client_tenant", "service_id", "hook", "hook_instance"],
        unique=True,
    )
    op.create_index("ix_decision_created_at", "decision", ["created_at"])

    op.create_table(
        "decision_card",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("decision_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("card_uuid", sa.String(255), nullable=False),
        *_client_columns(),
        sa.Column("suggestion_uuids", JSON_DOC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decision_card"),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decision.id"], name="fk_decision_card_decision_id_decision"
        ),
    )
    op.create_index("uq_decision_card_position", "decision_card", ["decision_id", "position"], unique=True)
    op.create_index(
        "ix_decision_card_owner",
        "decision_card",
        ["card_uuid", "client_issuer", "client_tenant", "service_id"],
    )

    op.create_table(
        "decision_model",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("decision_id", BIG_ID, nullable=False),
        sa.Column("model_id", sa.String(256), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_decision_model"),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decision.id"], name="fk_decision_model_decision_id_decision"
        ),
        sa.CheckConstraint("role IN ('active', 'shadow')", name="ck_decision_model_role"),
    )
    op.create_index("ix_decision_model_decision_id", "decision_model", ["decision_id"])
    op.create_index("ix_decision_model_model", "decision_model", ["model_id", "version"])

    op.create_table(
        "audit_event",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("client_issuer", sa.String(2048), nullable=False),
        sa.Column("client_subject", sa.String(2048), nullable=True),
        sa.Column("client_tenant", sa.String(512), nullable=False),
        sa.Column("token_jti", sa.String(512), nullable=True),
        sa.Column("user_ref", sa.String(512), nullable=True),
        sa.Column("patient_ref", sa.String(512), nullable=True),
        sa.Column("service_id", sa.String(128), nullable=False),
        sa.Column("hook", sa.String(128), nullable=False),
        sa.Column("hook_instance", sa.String(128), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("outcome", sa.SmallInteger(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("replayed", sa.Boolean(), nullable=False),
        sa.Column("decision_id", BIG_ID, nullable=True),
        sa.Column("card_uuids", JSON_DOC, nullable=False),
        sa.Column("models", JSON_DOC, nullable=False),
        sa.Column("fhir_calls", JSON_DOC, nullable=False),
        sa.Column("prefetch", JSON_DOC, nullable=False),
        sa.Column("server_version", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_event"),
        sa.CheckConstraint("outcome IN (0, 4, 8, 12)", name="ck_audit_event_outcome"),
    )
    op.create_index("ix_audit_event_recorded_at", "audit_event", ["recorded_at"])
    op.create_index("ix_audit_event_patient_ref", "audit_event", ["patient_ref"])
    op.create_index("ix_audit_event_request_id", "audit_event", ["request_id"])
    op.create_index("ix_audit_event_hook_instance", "audit_event", ["hook_instance"])

    op.create_table(
        "feedback",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        *_client_columns(),
        sa.Column("decision_card_id", BIG_ID, nullable=False),
        sa.Column("card_uuid", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("outcome_timestamp", TIMESTAMP, nullable=False),
        sa.Column("accepted_suggestions", JSON_DOC, nullable=False),
        sa.Column("reason_system", sa.String(1024), nullable=True),
        sa.Column("reason_code", sa.String(256), nullable=True),
        sa.Column("reason_display", sa.String(1024), nullable=True),
        sa.Column("user_comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
        sa.ForeignKeyConstraint(
            ["decision_card_id"], ["decision_card.id"], name="fk_feedback_decision_card_id_decision_card"
        ),
        sa.CheckConstraint("outcome IN ('accepted', 'overridden')", name="ck_feedback_outcome"),
    )
    op.create_index("uq_feedback_key", "feedback", ["card_uuid", "outcome", "outcome_timestamp"], unique=True)
    op.create_index("ix_feedback_decision_card_id", "feedback", ["decision_card_id"])
    op.create_index("ix_feedback_outcome_timestamp", "feedback", ["outcome_timestamp"])

    postgres = op.get_context().dialect.name == "postgresql"
    for statement in _PG_APPEND_ONLY if postgres else _SQLITE_APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
        op.execute("DROP TRIGGER audit_event_no_update_delete ON audit_event")
        op.execute("DROP FUNCTION audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER audit_event_no_delete")
        op.execute("DROP TRIGGER audit_event_no_update")
    op.drop_table("feedback")
    op.drop_table("audit_event")
    op.drop_table("decision_model")
    op.drop_table("decision_card")
    op.drop_table("decision")
