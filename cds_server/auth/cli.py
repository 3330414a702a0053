"""``cds-server clients add|list|remove`` and ``cds-server dev token``.

Clients added here live in the ``trusted_client`` table; running servers pick them up within 30 s.
Clients of ``CDS_CLIENTS_FILE`` are listed too but are changed by editing the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import click

if TYPE_CHECKING:
    from cds_server.config import Settings
    from cds_server.persistence.database import Database


@click.group()
def clients() -> None:
    """Trusted EHR clients: who may call this server."""


@clients.command("add")
@click.argument("issuer")
@click.option("--jwks-url", help="HTTPS URL of the client's JWK Set (fetched by the server, cached).")
@click.option(
    "--jwks-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A JWK Set file (inline keys).",
)
@click.option(
    "--jku", help="With --jwks-file: the jku header value the client sends (accepted, never fetched)."
)
@click.option(
    "--alg", "algorithms", multiple=True, help="Allowed algorithm (repeat); default ES384 and RS384."
)
@click.option(
    "--tenant", "tenants", multiple=True, help="Allowed tenant (repeat); then every JWT must name one."
)
@click.option(
    "--fhir-server", "fhir_servers", multiple=True, help="FHIR base URL this client may name (repeat)."
)
@click.option(
    "--open-fhir-server", "fhir_open_servers", multiple=True, help="Of those, one readable without a token."
)
@click.option("--link-host", "card_link_hosts", multiple=True, help="Host card links may point to (repeat).")
@click.option("--max-lifetime", "max_lifetime_s", type=int, help="Longest JWT lifetime accepted, in seconds.")
@click.option(
    "--rate", "rate_limit_per_s", type=float, help="Calls per second (default CDS_RATE_LIMIT_PER_S)."
)
@click.option("--burst", "rate_limit_burst", type=int, help="Burst (default CDS_RATE_LIMIT_BURST).")
def add_client(issuer: str, jwks_file: Path | None, **options: Any) -> None:
    """Register (or replace) the client whose JWTs carry ``iss`` = ISSUER."""
    from cds_server.auth.client_store import put_client
    from cds_server.auth.clients import ClientConfigError
    from cds_server.auth.clients import build_client
    from cds_server.auth.clients import parse_spec

    document: dict[str, Any] = {"issuer": issuer}
    document.update({name: value for name, value in options.items() if value not in (None, ())})
    if jwks_file is not None:
        try:
            document["jwks"] = json.loads(jwks_file.read_text())
        except (OSError, ValueError):
            raise click.ClickException(f"{jwks_file} is not a JSON file") from None
    try:
        spec = parse_spec(document, where="client")
        build_client(spec, source="database")  # imports the keys: a bad key fails now, not per call
    except ClientConfigError as error:
        raise click.ClickException(str(error)) from None
    with _Database() as database:
        created = put_client(database, spec)
    click.echo(f"{'added' if created else 'replaced'} client {issuer}")


@clients.command("list")
def list_clients() -> None:
    """Every trusted client: the table's and the clients file's."""
    from cds_server.auth.client_store import stored_specs
    from cds_server.auth.factory import read_clients_file

    settings = _settings()
    rows: list[tuple[str, Any]] = []
    if settings.clients_file:
        rows.extend(("file", spec) for spec in read_clients_file(Path(settings.clients_file)))
    with _Database() as database:
        rows.extend(("database", spec) for spec in stored_specs(database))
    for source, spec in rows:
        keys = f"jwks_url {spec.jwks_url}" if spec.jwks_url else f"{len(spec.jwks['keys'])} inline key(s)"
        extra = f" tenants={','.join(spec.tenants)}" if spec.tenants else ""
        servers = ",".join(spec.fhir_servers) or "(CDS_FHIR_SERVERS)"
        click.echo(f"{spec.issuer}  [{source}] {keys} algs={','.join(spec.algorithms)}{extra} fhir={servers}")
    if not rows:
        click.echo("no clients registered (the development client and the sandbox are settings, not rows)")


@clients.command("remove")
@click.argument("issuer")
def remove_client(issuer: str) -> None:
    """Stop trusting ISSUER (a client of the clients file is removed by editing the file)."""
    from cds_server.auth.client_store import remove_client as remove

    with _Database() as database:
        removed = remove(database, issuer)
    if not removed:
        raise click.ClickException(f"no client {issuer} in the database")
    click.echo(f"removed client {issuer}")


@click.group()
def dev() -> None:
    """Development helpers (the development client must be on: CDS_DEV_CLIENT=true)."""


@dev.command("token")
@click.option(
    "--url", required=True, help="The exact URL the token is for (its aud), e.g. …/cds-services/ID."
)
@click.option("--lifetime", default=300, show_default=True, type=int, help="Seconds the token is valid.")
def dev_token(url: str, lifetime: int) -> None:
    """Print a JWT of the development client for URL (one call: each token is accepted once)."""
    from cds_server.auth.devclient import DEV_ISSUER
    from cds_server.auth.devclient import ensure_dev_key
    from cds_server.auth.devclient import mint_token

    settings = _settings()
    if not settings.dev_client:
        raise click.ClickException("CDS_DEV_CLIENT is off: the server does not trust the development client")
    if not (url == settings.public_base_url or url.startswith(settings.public_base_url + "/")):
        click.echo(f"warning: {url} is not under CDS_PUBLIC_BASE_URL={settings.public_base_url}", err=True)
    signing = ensure_dev_key(Path(settings.dev_client_dir))
    click.echo(mint_token(signing, issuer=DEV_ISSUER, audience=url, lifetime_s=lifetime))


def _settings() -> Settings:
    from cds_server.config import ConfigError
    from cds_server.config import load_settings

    try:
        return load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


class _Database:
    """The configured database, migrated, for one command."""

    def __enter__(self) -> Database:
        from cds_server.persistence.database import open_database
        from cds_server.persistence.migrate import prepare_schema

        settings = _settings()
        self._db = open_database(settings)
        prepare_schema(self._db, auto_upgrade=settings.db_auto_upgrade)
        return self._db

    def __exit__(self, *exc: object) -> None:
        self._db.close()
