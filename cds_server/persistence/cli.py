"""``cds-server db``: schema migrations and retention, against ``CDS_DATABASE_URL``.

Only click is imported at module level: ``cds-server --help`` must not pay for SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


@click.group("db")
def db() -> None:
    """Database schema (Alembic migrations) and retention, for CDS_DATABASE_URL."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Revision to upgrade to.")
def upgrade(revision: str) -> None:
    """Upgrade the schema (creates the tables on an empty database)."""
    from cds_server.persistence import migrate

    url = _url()
    migrate.upgrade(url, revision)
    click.echo(f"database {_shown(url)} is at {migrate.revision_of(url)}")


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def downgrade(revision: str, yes: bool) -> None:
    """Downgrade the schema to REVISION (`base` drops every table, audit trail included)."""
    from cds_server.persistence import migrate

    url = _url()
    if not yes:
        click.confirm(
            f"Downgrade {_shown(url)} to {revision}? Tables a later revision created are dropped with "
            "their rows, the audit trail included",
            abort=True,
        )
    migrate.downgrade(url, revision)
    click.echo(f"database {_shown(url)} is at {migrate.revision_of(url) or 'base (empty)'}")


@db.command()
def current() -> None:
    """Show the revision the database is at and the one this server needs."""
    from cds_server.persistence import migrate

    url = _url()
    at, head = migrate.revision_of(url), migrate.head_revision()
    state = "up to date" if at == head else "run `cds-server db upgrade`"
    click.echo(f"database {_shown(url)}: {at or 'empty'} (this server needs {head}: {state})")


@db.command()
@click.option("--dry-run", is_flag=True, help="Count what would be cleared; change nothing.")
@click.option(
    "--days",
    type=click.IntRange(min=0),
    default=None,
    help="Clear inputs older than this many days [default: CDS_DECISION_RETENTION_DAYS].",
)
@click.option(
    "--every",
    "every_s",
    type=click.IntRange(min=60),
    default=None,
    help="Keep running, purging every this many seconds (the compose stack's scheduler: 86400).",
)
def purge(dry_run: bool, days: int | None, every_s: int | None) -> None:
    """Clear decision inputs and job snapshots (PHI) older than the retention period; audit rows are kept."""
    import time

    while True:
        try:
            _purge_once(dry_run, days)
        except Exception as error:
            if every_s is None:
                raise
            # a scheduler outlives one failed run (database restarting): report and try next time
            click.echo(f"purge failed ({type(error).__name__}); next try in {every_s} s", err=True)
        if every_s is None:
            return
        time.sleep(every_s)


def _purge_once(dry_run: bool, days: int | None) -> None:
    from cds_server.config import load_settings
    from cds_server.jobs.retention import purge_job_snapshots
    from cds_server.persistence.database import maintenance_engine
    from cds_server.persistence.retention import purge_decision_inputs

    settings = load_settings()
    retention = settings.decision_retention_days if days is None else days
    engine = maintenance_engine(settings.database_url)
    try:
        report = purge_decision_inputs(engine, older_than_days=retention, dry_run=dry_run)
        snapshots = purge_job_snapshots(engine, older_than_days=retention, dry_run=dry_run)
    finally:
        engine.dispose()
    verb = "would clear" if dry_run else "cleared"
    click.echo(
        f"{verb} the inputs of {report.decisions} decisions created before {report.cutoff.isoformat()} "
        f"({retention} days)"
    )
    click.echo(f"{verb} the prefetch snapshots of {snapshots} jobs finished before then")


def _url() -> URL:
    from cds_server.config import load_settings
    from cds_server.persistence.database import database_url

    return database_url(load_settings().database_url)


def _shown(url: URL) -> str:
    from cds_server.persistence.database import redacted

    return redacted(url)
