"""The ``cds-server`` command."""

from __future__ import annotations

import os

import click

from cds_server import __version__
from cds_server.persistence.cli import db


@click.group()
@click.version_option(__version__, prog_name="cds-server")
def main() -> None:
    """cds-server: a CDS Hooks 2.0 server for ONNX models."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the server under gunicorn (embedded defaults unless CDS_* variables say otherwise)."""
    from cds_server.config import load_settings
    from cds_server.server import serve as run_gunicorn

    if "CDS_PUBLIC_BASE_URL" not in os.environ:
        os.environ["CDS_PUBLIC_BASE_URL"] = f"http://{host}:{port}"
    load_settings()  # a bad setting fails here, once, instead of in every worker
    click.echo(f"cds-server {__version__}: discovery at http://{host}:{port}/cds-services")
    run_gunicorn(host=host, port=port, workers=workers, threads=threads)


@main.command()
@click.option("--markdown", is_flag=True, help="Print the table of all settings as in the README.")
def config(markdown: bool) -> None:
    """Show the effective configuration (embedded defaults overridden by CDS_* variables)."""
    from cds_server.config import Settings
    from cds_server.config import load_settings

    if markdown:
        click.echo("| Variable | Default | Meaning |\n|---|---|---|")
        for name, (doc, default) in Settings.docs().items():
            shown = ",".join(default) if isinstance(default, tuple) else str(default)
            click.echo(f"| `{name}` | {f'`{shown}`' if shown else '(empty)'} | {doc} |")
        return
    settings = load_settings()
    for name in Settings.names():
        value = getattr(settings, name)
        shown = ",".join(value) if isinstance(value, tuple) else value
        click.echo(f"CDS_{name.upper()}={shown}")


main.add_command(db)
