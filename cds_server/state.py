"""The per-app object that holds the server's parts; built once by :func:`cds_server.create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask import current_app

from cds_server.config import Settings
from cds_server.fhir.client import FhirGateway
from cds_server.hooks.pipeline import PipelineDeps
from cds_server.hooks.registry import ServiceRegistry


@dataclass
class CdsState:
    settings: Settings
    registry: ServiceRegistry
    fhir: FhirGateway

    def close(self) -> None:
        """Release pools and threads (tests build many apps; a server process just exits)."""
        self.fhir.close()

    def pipeline_deps(self, *, received: float) -> PipelineDeps:
        return PipelineDeps(
            registry=self.registry,
            open_fetcher=lambda request: self.fhir.for_request(request, received=received),
        )


def init_state(app: Flask, settings: Settings) -> CdsState:
    state = CdsState(settings=settings, registry=ServiceRegistry(), fhir=FhirGateway(settings))
    app.extensions["cds"] = state
    return state


def get_state(app: Flask | None = None) -> CdsState:
    state = (app or current_app).extensions["cds"]
    assert isinstance(state, CdsState)
    return state
