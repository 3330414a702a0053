"""``cds-server demo load``: put the demo patients into a FHIR server, ids kept."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC
from datetime import datetime

import httpx

from cds_server.demo.patients import DemoPatient
from cds_server.demo.patients import chart
from cds_server.demo.patients import put_transaction


def load_patients(
    fhir_base: str,
    patients: Iterable[DemoPatient],
    *,
    token: str | None = None,
    shift: bool = True,
    timeout_s: float = 120.0,
) -> list[tuple[str, int]]:
    """PUT each patient's resources in one transaction; returns (patient, resources written)."""
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    now = datetime.now(UTC) if shift else None
    written = []
    with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
        for patient in patients:
            resources = chart(patient, now=now)
            response = client.post(fhir_base.rstrip("/"), json=put_transaction(resources), headers=headers)
            response.raise_for_status()
            entries = response.json().get("entry", [])
            failed = [
                e
                for e in entries
                if not str(e.get("response", {}).get("status", "")).startswith(("200", "201"))
            ]
            if failed:
                raise RuntimeError(f"{patient.name}: {len(failed)} resources were not accepted")
            written.append((patient.name, len(resources)))
    return written


def wait_for_fhir(fhir_base: str, *, timeout_s: float, token: str | None = None, poll_s: float = 2.0) -> bool:
    """Poll ``GET {fhir_base}/metadata`` until it answers 200 (a FHIR server still starting, such as
    HAPI in docker-compose, whose image has no shell for a health check); ``False`` after ``timeout_s``."""
    headers = {"Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=5.0, follow_redirects=False, trust_env=False) as client:
        while True:
            try:
                if client.get(f"{fhir_base.rstrip('/')}/metadata", headers=headers).status_code == 200:
                    return True
            except httpx.TransportError:
                pass  # not listening yet
            if time.monotonic() + poll_s > deadline:
                return False
            time.sleep(poll_s)
