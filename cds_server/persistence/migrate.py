"""Alembic, driven from Python: the schema revision, upgrade, downgrade, and the start-up check.

The migration scripts live in the top-level ``migrations/`` folder next to this package; their
``alembic.ini`` is found from this file, never from the working directory. ``alembic -c
migrations/alembic.ini ...`` works too and reads ``CDS_DATABASE_URL``.

Two processes upgrading at once (gunicorn workers, replicas) run the migration one after the other:
``migrations/env.py`` takes ``pg_advisory_xact_lock`` on PostgreSQL, and SQLite maintenance
transactions are ``BEGIN EXCLUSIVE``; Alembic reads the current revision inside that transaction.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from cds_server.config import ConfigError
from cds_server.errors import DatabaseUnavailable

# imported for its side effect: Alembic's env.py and the schema tests compare the migrations with
# Base.metadata, which must hold the job tables wherever migrations are run
from cds_server.persistence import job_tables as _job_tables  # noqa: F401
from cds_server.persistence.database import Database
from cds_server.persistence.database import maintenance_engine
from cds_server.persistence.database import redacted

log = logging.getLogger("cds_server.persistence")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
ALEMBIC_INI = MIGRATIONS_DIR / "alembic.ini"
#: pg_advisory_xact_lock key that serialises migrations (any constant unique to this application)
MIGRATION_LOCK_KEY = 0x0CD5_5E4E
#: Alembic keeps the running migration in module globals (``alembic.context``): one at a time per process
_ALEMBIC = threading.Lock()


def alembic_config(url: URL | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # an attribute, not the ini option: a password may contain '%', which ini interpolation breaks
        config.attributes["database_url"] = url
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/versions holds no revision"
    return head


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(
        script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: URL, revision: str = "head") -> None:
    with _ALEMBIC:
        command.upgrade(alembic_config(url), revision)


def downgrade(url: URL, revision: str) -> None:
    with _ALEMBIC:
        command.downgrade(alembic_config(url), revision)


def revision_of(url: URL) -> str | None:
    engine = maintenance_engine(url)
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def prepare_schema(database: Database, *, auto_upgrade: bool) -> None:
    """Bring the schema to this server's head at start-up, or say why it cannot be used.

    An unreachable database does not stop the server: service calls answer 503 (fail closed) until it
    is back. A schema behind head with ``auto_upgrade`` off is a deployment error and stops it.

    :raise ConfigError: the schema is behind and ``auto_upgrade`` is off.
    """
    try:
        with database.read() as session:
            current = current_revision(session.connection())
    except DatabaseUnavailable:
        log.error("database unreachable at start-up; service calls answer 503 until it is reachable")
        return
    head = head_revision()
    if current == head:
        return
    if current is not None and current not in known_revisions():
        # a newer server migrated already (rolling deploy); its migrations keep old servers working
        log.warning("database schema %s is newer than this server's %s", current, head)
        return
    if not auto_upgrade:
        raise ConfigError(
            f"the database schema is at {current or 'nothing (empty database)'} but this server needs "
            f"{head}: run `cds-server db upgrade`"
        )
    log.info("upgrading database %s from %s to %s", redacted(database.url), current, head)
    try:
        upgrade(database.url)
    except OperationalError:
        log.error("database unreachable during the start-up upgrade; service calls answer 503 until fixed")
