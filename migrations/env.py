"""Alembic environment: runs the migrations of ``versions/`` against CDS_DATABASE_URL (or the URL
``cds-server db`` hands over), one process at a time."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import text

from cds_server.config import load_settings
from cds_server.persistence.database import database_url
from cds_server.persistence.database import maintenance_engine
from cds_server.persistence.migrate import MIGRATION_LOCK_KEY
from cds_server.persistence.models import Base

config = context.config
# Only the alembic command line configures logging: inside the server or the tests, fileConfig would
# replace the application's logging set-up.
if config.cmd_opts is not None and config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = config.attributes.get("database_url") or database_url(load_settings().database_url)


def run_offline() -> None:
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = maintenance_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                # SQLite cannot ALTER most things; batch mode rebuilds the table instead
                render_as_batch=connection.dialect.name == "sqlite",
                # SQLite does run DDL in transactions once pysqlite leaves transaction control to us
                # (maintenance_engine): one transaction makes the upgrade atomic and serialised
                transactional_ddl=True,
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # taken before Alembic reads the current revision, so a second process waits and then
                    # finds nothing left to do
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
