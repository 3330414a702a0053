"""``cds-server demo``: the demo patients."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("demo")
def demo() -> None:
    """Demo data: Synthea patients for a FHIR server or the demo chart."""


@demo.command("load")
@click.option("--fhir", "fhir_base", required=True, help="FHIR base URL, e.g. http://localhost:8080/fhir")
@click.option(
    "--token", envvar="CDS_DEMO_FHIR_TOKEN", help="Bearer token for the FHIR server, if it needs one."
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="Load every Synthea bundle of this folder instead of the six bundled demo patients.",
)
@click.option("--no-shift", is_flag=True, help="Keep the original dates (default: move each chart to today).")
@click.option(
    "--wait",
    "wait_s",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for the FHIR server to answer GET /metadata first (a server still starting).",
)
def load(fhir_base: str, token: str | None, folder: Path | None, no_shift: bool, wait_s: int) -> None:
    """Create or replace the demo patients on a FHIR server, keeping their ids."""
    import httpx

    from cds_server.demo.loader import load_patients
    from cds_server.demo.loader import wait_for_fhir
    from cds_server.demo.patients import demo_patients

    if wait_s and not wait_for_fhir(fhir_base, timeout_s=wait_s, token=token):
        raise click.ClickException(f"the FHIR server did not answer GET /metadata within {wait_s} s")
    patients = demo_patients(folder) if folder else demo_patients()
    try:
        for name, count in load_patients(fhir_base, patients, token=token, shift=not no_shift):
            click.echo(f"{name}: {count} resources")
    except httpx.HTTPStatusError as error:
        raise click.ClickException(f"the FHIR server answered {error.response.status_code}") from None
    except httpx.TransportError as error:
        raise click.ClickException(f"cannot reach the FHIR server ({type(error).__name__})") from None


@demo.command("list")
def list_patients() -> None:
    """The bundled demo patients."""
    from cds_server.demo.patients import demo_patients

    for patient in demo_patients():
        click.echo(patient.label)
