"""Diagnostic jobs: job, job_unit (what workers claim), job_outbox (messages still to send), job_result,
and server_key (generated secrets every process shares).

Revision ID: 0003_jobs
Revises: 0002_security
Created: 2025-06-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_jobs"
down_revision: str | None = "0002_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
JOB_STATES = "'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'"
UNIT_STATES = "'QUEUED', 'RUNNING', 'DONE', 'FAILED', 'CANCELLED'"


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("client_issuer", sa.String(2048), nullable=False),
        sa.Column("client_subject", sa.String(2048), nullable=True),
        sa.Column("client_tenant", sa.String(512), nullable=False),
        sa.Column("service_id", sa.String(128), nullable=True),
        sa.Column("hook_instance", sa.String(128), nullable=True),
        sa.Column("patient_ref", sa.String(512), nullable=True),
        sa.Column("fhir_server", sa.String(2048), nullable=True),
        sa.Column("params", JSON_DOC, nullable=False),
        sa.Column("snapshot", JSON_DOC, nullable=True),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.String(512), nullable=True),
        sa.Column("result", JSON_DOC, nullable=True),
        sa.CheckConstraint(f"status IN ({JOB_STATES})", name="ck_job_status"),
        sa.PrimaryKeyConstraint("id", name="pk_job"),
    )
    op.create_index("ix_job_owner", "job", ["client_issuer", "client_tenant", "created_at"])
    op.create_index("ix_job_service_patient", "job", ["service_id", "patient_ref", "status"])
    op.create_index("ix_job_status", "job", ["status", "created_at"])

    op.create_table(
        "job_unit",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(256), nullable=True),
        sa.Column("lease_until", TIMESTAMP, nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP, nullable=True),
        sa.Column("last_published_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("payload", JSON_DOC, nullable=True),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.CheckConstraint(f"status IN ({UNIT_STATES})", name="ck_job_unit_status"),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name="fk_job_unit_job_id_job"),
        sa.PrimaryKeyConstraint("job_id", "unit", name="pk_job_unit"),
    )
    op.create_index("ix_job_unit_status", "job_unit", ["status", "lease_until"])

    op.create_table(
        "job_outbox",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("unit", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("available_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_job_outbox"),
    )
    op.create_index("ix_job_outbox_available_at", "job_outbox", ["available_at"])

    op.create_table(
        "job_result",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("patient_ref", sa.String(512), nullable=True),
        sa.Column("as_of", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outputs", JSON_DOC, nullable=True),
        sa.Column("reason", sa.String(1024), nullable=True),
        sa.Column("written_back", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["job.id"], name="fk_job_result_job_id_job"),
        sa.PrimaryKeyConstraint("job_id", "seq", name="pk_job_result"),
    )

    op.create_table(
        "server_key",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_server_key"),
    )


def downgrade() -> None:
    op.drop_table("server_key")
    op.drop_table("job_result")
    op.drop_index("ix_job_outbox_available_at", table_name="job_outbox")
    op.drop_table("job_outbox")
    op.drop_index("ix_job_unit_status", table_name="job_unit")
    op.drop_table("job_unit")
    op.drop_index("ix_job_status", table_name="job")
    op.drop_index("ix_job_service_patient", table_name="job")
    op.drop_index("ix_job_owner", table_name="job")
    op.drop_table("job")
