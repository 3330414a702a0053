"""The per-app object that holds the server's parts; built once by :func:`cds_server.create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask import current_app

from cds_server.config import Settings
from cds_server.fhir.client import FhirGateway
from cds_server.hooks.feedback import FeedbackLimits
from cds_server.hooks.pipeline import PipelineDeps
from cds_server.hooks.registry import ServiceRegistry
from cds_server.persistence.database import Database
from cds_server.persistence.database import open_database
from cds_server.persistence.feedback import FeedbackRecorder
from cds_server.persistence.migrate import prepare_schema
from cds_server.persistence.store import SqlDecisionStore


@dataclass
class CdsState:
    settings: Settings
    registry: ServiceRegistry
    fhir: FhirGateway
    database: Database
    decisions: SqlDecisionStore
    feedback: FeedbackRecorder

    @property
    def feedback_limits(self) -> FeedbackLimits:
        return FeedbackLimits(
            max_items=self.settings.feedback_max_items,
            max_comment_chars=self.settings.feedback_max_comment_chars,
        )

    def close(self) -> None:
        """Release pools and threads (tests build many apps; a server process just exits)."""
        self.fhir.close()
        self.database.close()

    def pipeline_deps(self, *, received: float) -> PipelineDeps:
        return PipelineDeps(
            registry=self.registry,
            open_fetcher=lambda request: self.fhir.for_request(request, received=received),
            decisions=self.decisions,
        )


def init_state(app: Flask, settings: Settings) -> CdsState:
    database = open_database(settings)
    prepare_schema(database, auto_upgrade=settings.db_auto_upgrade)
    registry = ServiceRegistry()
    state = CdsState(
        settings=settings,
        registry=registry,
        fhir=FhirGateway(settings),
        database=database,
        decisions=SqlDecisionStore(database),
        feedback=FeedbackRecorder(database, registry),
    )
    app.extensions["cds"] = state
    return state


def get_state(app: Flask | None = None) -> CdsState:
    state = (app or current_app).extensions["cds"]
    assert isinstance(state, CdsState)
    return state
