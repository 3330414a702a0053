"""The ``cds-server`` command.

Heavy imports happen inside the commands, so ``cds-server --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cds_server import __version__
from cds_server.auth.cli import clients
from cds_server.auth.cli import dev
from cds_server.demo.cli import demo
from cds_server.persistence.cli import db
from cds_server.registration.cli import docs

if TYPE_CHECKING:
    from cds_server.config import Settings

#: settings whose values are credentials: never printed
SECRET_SETTINGS = frozenset({"admin_token", "job_link_secret"})


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
    # before anything imports prometheus_client: the workers inherit the multiprocess mode from here
    from cds_server.telemetry.multiprocess import metrics_directory

    if "CDS_PUBLIC_BASE_URL" not in os.environ:
        os.environ["CDS_PUBLIC_BASE_URL"] = f"http://{host}:{port}"
    settings = _settings_or_exit()  # a bad setting fails here, once, instead of in every worker
    with metrics_directory():
        _serve(settings, host=host, port=port, workers=workers, threads=threads)


def _serve(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    from cds_server.persistence.database import open_database
    from cds_server.persistence.migrate import prepare_schema
    from cds_server.server import serve as run_gunicorn
    from cds_server.telemetry.logs import configure_logging

    configure_logging(settings.log_format, app_level=settings.log_level)
    # migrate once in the master, before workers race to do it
    database = open_database(settings)
    try:
        prepare_schema(database, auto_upgrade=settings.db_auto_upgrade)
    finally:
        database.close()
    if settings.dev_client:
        from cds_server.auth.devclient import ensure_dev_key

        ensure_dev_key(Path(settings.dev_client_dir))  # once here, not raced by the workers
    _announce(settings, host=host, port=port)
    embedded = None
    if settings.embedded_worker:
        from cds_server.tasks.embedded import EmbeddedWorker

        # a child process that dies with this one; the jobs queue to the embedded broker without it
        embedded = EmbeddedWorker(concurrency=settings.worker_concurrency)
        embedded.start()
    try:
        run_gunicorn(host=host, port=port, workers=workers, threads=threads, log_format=settings.log_format)
    finally:
        if embedded is not None:
            embedded.stop()


def _announce(settings: Settings, *, host: str, port: int) -> None:
    """Where to go first; in JSON log mode as one log event, so every line stays machine-readable."""
    import logging

    base = settings.public_base_url
    pages = {
        "demo": f"{base}/demo" if settings.dev_client else None,
        "discovery": f"{base}/cds-services",
        "registration": f"{base}/docs/registration",
        "metrics": f"{base}/metrics",
        "dashboard": f"{base}/dashboard",
    }
    warning = "the development client is trusted (CDS_DEV_CLIENT=true); turn it off in production"
    if settings.log_format == "json":
        log = logging.getLogger("cds_server.serve")
        if settings.dev_client:
            log.warning(warning)
        log.info("cds-server %s listening on %s:%d", __version__, host, port, extra={"cds": pages})
        return
    if settings.dev_client:
        click.echo(f"WARNING: {warning}", err=True)
    click.echo(f"cds-server {__version__} listening on http://{host}:{port}")
    if pages["demo"]:
        click.echo(f"  demo chart:   {pages['demo']}")
    click.echo(f"  discovery:    {pages['discovery']}")
    click.echo(f"  registration: {pages['registration']}")
    click.echo(f"  metrics:      {pages['metrics']}")
    opened = (
        "user: any, password: CDS_ADMIN_TOKEN" if settings.admin_token else "set CDS_ADMIN_TOKEN to open it"
    )
    click.echo(f"  dashboard:    {pages['dashboard']} ({opened})")


@main.command()
@click.option("--concurrency", type=int, help="Job processes (default: CDS_WORKER_CONCURRENCY).")
@click.option("--loglevel", default="INFO", show_default=True, help="Log level of the worker.")
@click.option("--parent-pid", type=int, hidden=True, help="Exit when this process is no longer the parent.")
def worker(concurrency: int | None, loglevel: str, parent_pid: int | None) -> None:
    """Run a job worker: a Celery worker (prefork) that also relays the job outbox and runs the reaper."""
    from cds_server.tasks.worker import run_worker

    _settings_or_exit()  # a bad setting fails here with its name, before Celery starts
    run_worker(concurrency=concurrency, loglevel=loglevel, parent_pid=parent_pid)


@main.command()
@click.option("--markdown", is_flag=True, help="Print the table of all settings as in the README.")
def config(markdown: bool) -> None:
    """Show the effective configuration (embedded defaults overridden by CDS_* variables)."""
    from cds_server.config import Settings

    if markdown:
        click.echo("| Variable | Default | Meaning |\n|---|---|---|")
        for name, (doc, default) in Settings.docs().items():
            shown = ",".join(default) if isinstance(default, tuple) else str(default)
            click.echo(f"| `{name}` | {f'`{shown}`' if shown else '(empty)'} | {doc} |")
        return
    settings = _settings_or_exit()
    for name in Settings.names():
        value = getattr(settings, name)
        shown = ",".join(value) if isinstance(value, tuple) else value
        click.echo(f"CDS_{name.upper()}={_masked(name, shown)}")


@main.group()
def models() -> None:
    """Model artifacts: verify them, rebuild the reference models, list what is deployed."""


@models.command("verify")
@click.option(
    "--dir", "folder", type=click.Path(path_type=Path), help="Model artifacts folder (CDS_MODELS_DIR)."
)
def verify_models(folder: Path | None) -> None:
    """Check every artifact (sha256, ONNX, card, self-tests); exit 1 naming each bad file."""
    from cds_server.inference import verify_artifacts

    folder = folder or _settings_or_exit().folder("models_dir")
    problems = verify_artifacts(folder)
    for problem in problems:
        click.echo(f"FAIL {problem.path}: {problem.problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"all model artifacts under {folder} verified")


@models.command("build")
@click.option("--out", type=click.Path(path_type=Path), help="Where to write (default: CDS_MODELS_DIR).")
def build_models(out: Path | None) -> None:
    """Rebuild the four reference models from published coefficients and bundled data (reproducible)."""
    from cds_server.inference import build_reference_models

    out = out or _settings_or_exit().folder("models_dir")
    for result in build_reference_models(out):
        click.echo(f"{result.model_id} {result.version}: sha256 {result.sha256} ({result.size_bytes} bytes)")


@models.command("list")
def list_models() -> None:
    """Deployed models, their active and shadow versions, and the execution provider really used."""
    from cds_server.inference import ModelRegistry
    from cds_server.inference import overrides_from_env

    settings = _settings_or_exit()
    overrides = overrides_from_env({"CDS_MODEL_DEPLOYMENTS": settings.model_deployments})
    registry = ModelRegistry.load(
        settings.folder("models_dir"), providers=settings.model_providers or None, overrides=overrides
    )
    for model_id, status in sorted(registry.status().items()):
        state = f"ready on {status.provider}" if status.ready else f"NOT READY: {status.reason}"
        shadow = ", ".join(s.version for s in status.shadow)
        click.echo(
            f"{model_id} {status.active_version}: {state}" + (f" (shadow: {shadow})" if shadow else "")
        )


main.add_command(db)
main.add_command(clients)
main.add_command(dev)
main.add_command(demo)
main.add_command(docs)


def _settings_or_exit() -> Settings:
    from cds_server.config import ConfigError
    from cds_server.config import load_settings

    try:
        return load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _masked(name: str, value: object) -> object:
    """Secrets never reach a terminal or a log: tokens are starred, passwords cut out of URLs."""
    if name in SECRET_SETTINGS and value:
        return "***"
    if name == "database_url" and isinstance(value, str):
        from sqlalchemy.engine import make_url

        return make_url(value).render_as_string(hide_password=True)
    if name == "redis_url" and isinstance(value, str) and value:
        from sqlalchemy.engine import make_url

        return make_url(value).render_as_string(hide_password=True)
    if name == "broker_url" and isinstance(value, str) and value:
        from kombu.utils.url import maybe_sanitize_url

        return maybe_sanitize_url(value)
    return value


if __name__ == "__main__":
    main()
