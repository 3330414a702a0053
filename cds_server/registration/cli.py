"""``cds-server docs registration``: the registration sheet on standard output (no database needed)."""

from __future__ import annotations

import click


@click.group("docs")
def docs() -> None:
    """Documents generated from this server's configuration and service declarations."""


@docs.command("registration")
@click.option(
    "--format",
    "form",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Output format.",
)
def registration(form: str) -> None:
    """The registration sheet of every service: hooks, prefetch, scopes, JWT expectations, cards."""
    import importlib

    import orjson

    from cds_server.config import ConfigError
    from cds_server.config import load_settings
    from cds_server.features import load_mappings
    from cds_server.hooks.registry import ServiceRegistry
    from cds_server.inference import ModelRegistry
    from cds_server.inference import overrides_from_env
    from cds_server.registration.markdown import sheet_markdown
    from cds_server.registration.sheet import build_sheet
    from cds_server.services.loader import load_service_declarations

    try:
        settings = load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    overrides = overrides_from_env({"CDS_MODEL_DEPLOYMENTS": settings.model_deployments})
    models = ModelRegistry.load(
        settings.folder("models_dir"), providers=settings.model_providers or None, overrides=overrides
    )
    registry = ServiceRegistry()
    for service in load_service_declarations(
        settings.folder("services_dir"),
        mappings=load_mappings(settings.folder("mappings_dir")),
        models=models,
        public_base_url=settings.public_base_url,
    ):
        registry.register(service)
    for module_name in settings.service_modules:
        importlib.import_module(module_name).register_services(registry)
    sheet = build_sheet(registry, settings)
    if form == "json":
        click.echo(orjson.dumps(sheet, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(sheet_markdown(sheet), nl=False)
