"""HTTP glue: routes parse, call one function, serialise. No FHIR, SQL or ONNX in here."""

from __future__ import annotations

from flask import Blueprint
from flask import Flask

from cds_server.api import admin
from cds_server.api import dashboard
from cds_server.api import demo
from cds_server.api import dev
from cds_server.api import discovery
from cds_server.api import feedback
from cds_server.api import health
from cds_server.api import jobs
from cds_server.api import metrics
from cds_server.api import models
from cds_server.api import openapi
from cds_server.api import registration
from cds_server.api import services
from cds_server.api.auth import install_authentication
from cds_server.api.errors import register_error_handlers
from cds_server.api.http import install_http_hooks
from cds_server.api.metrics import install_request_metrics


def register_api(app: Flask) -> None:
    install_http_hooks(app)
    install_request_metrics(app)
    install_authentication(app)  # after the request id and clock are set
    register_error_handlers(app)
    app.register_blueprint(discovery.bp)
    app.register_blueprint(services.bp)
    app.register_blueprint(feedback.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(models.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(demo.bp)
    app.register_blueprint(dev.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(metrics.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(registration.bp)
    # templates and static files of the pages (model cards, demo chart, dashboard, registration sheet)
    app.register_blueprint(
        Blueprint(
            "web",
            "cds_server.web",
            template_folder="templates",
            static_folder="static",
            static_url_path="/static",
        )
    )
