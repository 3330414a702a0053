"""``cds-server clients add|list|remove`` and ``cds-server dev token``, against a running app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cds_server.cli import main
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.clients import EHR_A
from tests.support.clients import signing_key
from tests.support.databases import TestDatabase
from tests.support.jwt_forge import claims
from tests.support.jwt_forge import signed

pytestmark = pytest.mark.integration

ISSUER = "https://added-by-cli.example.org"


def test_clients_added_and_removed_take_effect_without_a_restart(
    make_app: AppFactory, database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_DATABASE_URL", database.url)
    app = make_app(database_url=database.url)
    key = signing_key(EHR_A)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(key.public_jwks()))
    url = "http://127.0.0.1:8000/cds-services"
    client = app.test_client(sign=False)

    def call() -> int:
        token = signed({"typ": "JWT", "kid": key.kid}, claims(ISSUER, url), key, alg="ES384")
        return client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code

    assert call() == 401
    runner = CliRunner()
    added = runner.invoke(
        main,
        [
            "clients",
            "add",
            ISSUER,
            "--jwks-file",
            str(jwks),
            "--alg",
            "ES384",
            "--fhir-server",
            "https://f.example/r4",
        ],
    )
    assert added.exit_code == 0, added.output
    listed = runner.invoke(main, ["clients", "list"])
    assert ISSUER in listed.output
    assert "fhir=https://f.example/r4" in listed.output
    get_state(app).auth.registry.refresh()  # a running server re-reads the table every 30 s
    assert call() == 200

    assert runner.invoke(main, ["clients", "remove", ISSUER]).exit_code == 0
    get_state(app).auth.registry.refresh()
    assert call() == 401
    assert runner.invoke(main, ["clients", "remove", ISSUER]).exit_code != 0


def test_a_bad_key_file_is_refused_with_the_reason(tmp_path: Path) -> None:
    private = tmp_path / "private.json"
    private.write_text(json.dumps({"keys": [{**signing_key(EHR_A).key.as_dict(private=True), "kid": "k"}]}))
    result = CliRunner().invoke(main, ["clients", "add", ISSUER, "--jwks-file", str(private)])
    assert result.exit_code != 0
    assert "private key material" in result.output


def test_dev_token_prints_a_token_the_server_accepts_once(make_app: AppFactory) -> None:
    app = make_app()
    url = "http://127.0.0.1:8000/cds-services"
    result = CliRunner().invoke(main, ["dev", "token", "--url", url])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    client = app.test_client(sign=False)
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_dev_token_needs_the_dev_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_DEV_CLIENT", "false")
    result = CliRunner().invoke(main, ["dev", "token", "--url", "http://127.0.0.1:8000/cds-services"])
    assert result.exit_code != 0
    assert "CDS_DEV_CLIENT is off" in result.output
