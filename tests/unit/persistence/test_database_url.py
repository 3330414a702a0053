"""Which URLs the server accepts for CDS_DATABASE_URL, and what it makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_server.config import ConfigError
from cds_server.persistence.database import database_url
from cds_server.persistence.database import redacted


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://u:p@db:5432/cds",
        "postgres://u:p@db:5432/cds",
        "postgresql+psycopg://u:p@db:5432/cds",
        "postgresql+psycopg2://u:p@db:5432/cds",
    ],
)
def test_postgres_urls_use_psycopg_3(raw: str) -> None:
    url = database_url(raw)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == ("db", 5432, "cds")


def test_a_relative_sqlite_path_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = database_url("sqlite:///instance/cds-server.db")
    assert url.database == str(tmp_path / "instance" / "cds-server.db")


@pytest.mark.parametrize(
    "raw", ["sqlite://", "sqlite:///:memory:", "mysql://u@h/db", "not a url", "sqlite:///file:x?mode=memory"]
)
def test_unusable_urls_are_config_errors_that_do_not_repeat_the_url(raw: str) -> None:
    with pytest.raises(ConfigError) as raised:
        database_url(raw)
    assert raw not in str(raised.value)


def test_printed_urls_hide_the_password() -> None:
    shown = redacted(database_url("postgresql://cds:s3cret-CANARY@db/cds"))
    assert "s3cret-CANARY" not in shown
    assert shown == "postgresql+psycopg://cds:***@db/cds"
