"""The per-app object that holds the server's parts; built once by :func:`cds_server.create_app`."""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask
from flask import current_app

from cds_server.auth.authenticator import Authenticator
from cds_server.auth.clients import TrustedClient
from cds_server.auth.factory import build_authenticator
from cds_server.config import Settings
from cds_server.features import MappingRegistry
from cds_server.features import load_mappings
from cds_server.fhir.client import FhirGateway
from cds_server.hooks.feedback import FeedbackLimits
from cds_server.hooks.pipeline import PipelineDeps
from cds_server.hooks.registry import ServiceRegistry
from cds_server.inference import ModelRegistry
from cds_server.inference import overrides_from_env
from cds_server.jobs.system import JobSystem
from cds_server.persistence.database import Database
from cds_server.persistence.database import open_database
from cds_server.persistence.feedback import FeedbackRecorder
from cds_server.persistence.migrate import prepare_schema
from cds_server.persistence.store import SqlDecisionStore
from cds_server.services.loader import load_service_declarations
from cds_server.telemetry.metrics import observe_inference


@dataclass
class CdsState:
    settings: Settings
    registry: ServiceRegistry
    fhir: FhirGateway
    database: Database
    decisions: SqlDecisionStore
    feedback: FeedbackRecorder
    mappings: MappingRegistry
    models: ModelRegistry
    #: diagnostic jobs: store, kinds, backend FHIR servers, signed result links
    jobs: JobSystem
    #: client registry, JWT verification, replay store, rate limits, security events
    auth: Authenticator

    @property
    def feedback_limits(self) -> FeedbackLimits:
        return FeedbackLimits(
            max_items=self.settings.feedback_max_items,
            max_comment_chars=self.settings.feedback_max_comment_chars,
        )

    def close(self) -> None:
        """Release pools and threads (tests build many apps; a server process just exits)."""
        self.fhir.close()
        self.auth.close()
        self.database.close()

    def pipeline_deps(self, *, received: float, client: TrustedClient | None = None) -> PipelineDeps:
        """The pipeline's edges for one call; FHIR access follows ``client``'s allow-list if it has one."""
        policy = client.fhir_policy if client is not None else None
        return PipelineDeps(
            registry=self.registry,
            open_fetcher=lambda request: self.fhir.for_request(request, received=received, policy=policy),
            decisions=self.decisions,
            checked_fhir_server=lambda request: self.fhir.allowed_base(request, policy=policy),
        )

    def link_hosts(self, client: TrustedClient) -> frozenset[str]:
        """Hosts ``client``'s card links may point to: its own list, else the server's, plus this server."""
        own_host = (urlsplit(self.settings.public_base_url).hostname or "").lower()
        hosts = client.card_link_hosts or frozenset(h.lower() for h in self.settings.card_link_hosts)
        return hosts | {own_host}


def init_state(app: Flask, settings: Settings) -> CdsState:
    database = open_database(settings)
    prepare_schema(database, auto_upgrade=settings.db_auto_upgrade)
    registry = ServiceRegistry()
    mappings = _mappings(settings.folder("mappings_dir"))
    models = _models(settings.folder("models_dir"), settings.model_providers, settings.model_deployments)
    # every onnxruntime run is timed into the metrics (the registry is shared by this process's apps)
    models.observer = observe_inference
    jobs = JobSystem.build(settings, database)
    for service in load_service_declarations(
        settings.folder("services_dir"),
        mappings=mappings,
        models=models,
        public_base_url=settings.public_base_url,
        jobs=jobs.gateway,
    ):
        registry.register(service)
    # Everything loaded so far lives as long as the process: keep the collector from scanning it
    # again and again (it caused 40 ms pauses in the extraction benchmark).
    gc.freeze()
    state = CdsState(
        settings=settings,
        registry=registry,
        fhir=FhirGateway(settings),
        database=database,
        decisions=SqlDecisionStore(database),
        feedback=FeedbackRecorder(database, registry),
        mappings=mappings,
        models=models,
        jobs=jobs,
        auth=build_authenticator(settings, database),
    )
    app.extensions["cds"] = state
    return state


# One process serves one app; tests build hundreds. Compiled mappings are immutable and a model
# registry is safe to share, so both are cached per folder (and per deployment choice for models).
@functools.cache
def _mappings(folder: Path) -> MappingRegistry:
    return load_mappings(folder)


@functools.cache
def _models(folder: Path, providers: tuple[str, ...], deployments: str) -> ModelRegistry:
    overrides = overrides_from_env({"CDS_MODEL_DEPLOYMENTS": deployments}) if deployments else {}
    return ModelRegistry.load(folder, providers=providers or None, overrides=overrides)


def get_state(app: Flask | None = None) -> CdsState:
    state = (app or current_app).extensions["cds"]
    assert isinstance(state, CdsState)
    return state
