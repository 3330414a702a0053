"""Client authentication: the JWT replay store, trusted clients, security events.

``jwt_replay`` is the ``jti`` store shared by all workers when no Redis is configured: its primary
key lets exactly one insert of a token's key through. ``trusted_client`` holds the clients added with
``cds-server clients add``. ``security_event`` records refused authentications without the token.

Revision ID: 0002_security
Revises: 0001
Created: 2025-06-15
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_security"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jwt_replay",
        sa.Column("token_key", sa.String(64), nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("token_key", name="pk_jwt_replay"),
    )
    op.create_index("ix_jwt_replay_expires_at", "jwt_replay", ["expires_at"])

    op.create_table(
        "trusted_client",
        sa.Column("issuer", sa.String(2048), nullable=False),
        sa.Column("document", JSON_DOC, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("issuer", name="pk_trusted_client"),
    )

    op.create_table(
        "security_event",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(2048), nullable=True),
        sa.Column("claimed_issuer_sha256", sa.String(64), nullable=True),
        sa.Column("kid", sa.String(256), nullable=True),
        sa.Column("jti_sha256", sa.String(64), nullable=True),
        sa.Column("source_ip", sa.String(64), nullable=True),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_security_event"),
    )
    op.create_index("ix_security_event_recorded_at", "security_event", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("security_event")
    op.drop_table("trusted_client")
    op.drop_table("jwt_replay")
