"""Retention: decision inputs (PHI) are cleared after N days; audit rows, cards and feedback stay."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cds_server.cli import main
from cds_server.persistence.database import maintenance_engine
from cds_server.persistence.retention import purge_decision_inputs
from tests.conftest import AppFactory
from tests.support.databases import TestDatabase
from tests.support.databases import migrated_sqlite
from tests.support.paths import REPO_ROOT
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration

URL = "/cds-services/risk-demo"


def backdate(database: TestDatabase, hook_instance: str, days: int) -> None:
    created = datetime.now(UTC) - timedelta(days=days)
    with database.engine.begin() as connection:
        connection.execute(
            text("UPDATE decision SET created_at = :created WHERE hook_instance = :hi"),
            {
                "created": created if database.kind == "postgresql" else created.replace(tzinfo=None),
                "hi": hook_instance,
            },
        )


def test_purge_clears_old_inputs_only(make_app: AppFactory, database: TestDatabase) -> None:
    client = make_app(database_url=database.url).test_client()
    old, recent = golden_request("patient-view"), golden_request("patient-view")
    old_cards = client.post(URL, json=old).json
    client.post(URL, json=recent)
    backdate(database, old["hookInstance"], days=31)
    audit_before = database.rows("audit_event")
    engine = maintenance_engine(database.url)
    try:
        preview = purge_decision_inputs(engine, older_than_days=30, dry_run=True)
        assert (preview.decisions, preview.dry_run) == (1, True)
        assert all(row["inputs"] is not None for row in database.rows("decision"))

        report = purge_decision_inputs(engine, older_than_days=30)
        assert report.decisions == 1
        assert purge_decision_inputs(engine, older_than_days=30).decisions == 0
    finally:
        engine.dispose()

    by_instance = {row["hook_instance"]: row for row in database.rows("decision")}
    purged, kept = by_instance[old["hookInstance"]], by_instance[recent["hookInstance"]]
    assert purged["inputs"] is None
    assert purged["inputs_purged_at"] is not None
    assert purged["inputs_sha256"] is not None  # what was used stays provable
    assert purged["outputs"] is not None
    assert kept["inputs"] is not None
    assert kept["inputs_purged_at"] is None
    assert database.rows("audit_event") == audit_before

    replayed = client.post(URL, json=old)
    assert replayed.json == old_cards  # the cards survive the purge: a retry still replays


def test_purge_command_uses_the_retention_setting(
    make_app: AppFactory, database: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_app(database_url=database.url).test_client()
    body = golden_request("patient-view")
    client.post(URL, json=body)
    backdate(database, body["hookInstance"], days=8)
    monkeypatch.setenv("CDS_DATABASE_URL", database.url)
    monkeypatch.setenv("CDS_DECISION_RETENTION_DAYS", "10")
    runner = CliRunner()

    kept = runner.invoke(main, ["db", "purge"])
    assert kept.exit_code == 0, kept.output
    assert kept.output.startswith("cleared the inputs of 0 decisions")

    dry = runner.invoke(main, ["db", "purge", "--dry-run", "--days", "7"])
    assert dry.output.startswith("would clear the inputs of 1 decisions")
    assert database.rows("decision")[0]["inputs"] is not None

    cleared = runner.invoke(main, ["db", "purge", "--days", "7"])
    assert cleared.output.startswith("cleared the inputs of 1 decisions")
    assert database.rows("decision")[0]["inputs"] is None


def test_the_scheduler_purges_at_once_then_every_interval(tmp_path: Path) -> None:
    """``cds-server db purge --every N`` (the compose stack's scheduler) purges at once, then sleeps."""
    url = f"sqlite:///{migrated_sqlite(tmp_path / 'cds.db')}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("CDS_")}
    env.update(CDS_DATABASE_URL=url, PYTHONPATH=str(REPO_ROOT))
    command = [sys.executable, "-m", "cds_server.cli", "db", "purge", "--every", "3600"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("cleared the inputs of 0 decisions created before ")
        time.sleep(0.5)
        assert process.poll() is None  # still running: the next purge is due in an hour
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    assert CliRunner().invoke(main, ["db", "purge", "--every", "5"]).exit_code == 2  # at least a minute
