"""The ``trusted_client`` table: clients added with ``cds-server clients add`` (the database edge).

Rows hold the validated :class:`~cds_server.auth.clients.ClientSpec` as a JSON document, so what the
command accepted is exactly what the server loads.
"""

from __future__ import annotations

import logging
from datetime import UTC
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy import select

from cds_server.auth.clients import ClientConfigError
from cds_server.auth.clients import ClientSpec
from cds_server.auth.clients import TrustedClient
from cds_server.auth.clients import build_client
from cds_server.auth.clients import parse_spec
from cds_server.persistence.database import Database
from cds_server.persistence.models import TrustedClientRow

log = logging.getLogger("cds_server.security")


def stored_specs(database: Database) -> list[ClientSpec]:
    """Every registered client's spec; a row that no longer validates is skipped and logged."""
    with database.read() as session:
        rows = session.execute(select(TrustedClientRow.issuer, TrustedClientRow.document)).all()
    specs = []
    for issuer, document in rows:
        try:
            specs.append(parse_spec(document, where="trusted_client row"))
        except ClientConfigError:
            log.error("trusted_client row for issuer %s is not a valid client; ignored", issuer)
    return specs


def load_clients(
    database: Database, *, allow_http: bool = False, allow_private: bool = False
) -> dict[str, TrustedClient]:
    clients = {}
    for spec in stored_specs(database):
        try:
            clients[spec.issuer] = build_client(
                spec, source="database", allow_http=allow_http, allow_private=allow_private
            )
        except ClientConfigError as error:
            log.error("trusted client ignored: %s", error)
    return clients


def put_client(database: Database, spec: ClientSpec) -> bool:
    """Add or replace a client. :return: whether it was new."""
    now = datetime.now(UTC)
    with database.write() as session:
        row = session.get(TrustedClientRow, spec.issuer)
        if row is None:
            session.add(
                TrustedClientRow(
                    issuer=spec.issuer, document=spec.as_document(), created_at=now, updated_at=now
                )
            )
            return True
        row.document = spec.as_document()
        row.updated_at = now
        return False


def remove_client(database: Database, issuer: str) -> bool:
    """:return: whether a client was removed."""
    with database.write() as session:
        result = session.execute(delete(TrustedClientRow).where(TrustedClientRow.issuer == issuer))
        return bool(result.rowcount)  # type: ignore[attr-defined]
