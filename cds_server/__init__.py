"""cds-server: a FHIR-native CDS Hooks 2.0 server that answers with ONNX models' results.

:func:`create_app` is the only place the application is assembled.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from cds_server.config import load_settings

__all__ = ["create_app"]
__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the WSGI app: embedded defaults, then ``CDS_*`` environment variables, then ``config``."""
    from cds_server.api import register_api
    from cds_server.auth.redaction import install_redaction
    from cds_server.state import init_state

    settings = load_settings(config)
    logging.getLogger("cds_server").setLevel(settings.log_level.upper())
    # the net under "never log a token": bearer tokens and JWT-shaped strings are masked in every record
    install_redaction()
    # urllib3/httpx debug logs print full URLs, which carry patient ids
    for noisy in ("httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    app = Flask(__name__, static_folder=None)  # pages use the "web" blueprint's static files
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    state = init_state(app, settings)
    register_api(app)
    for module_name in settings.service_modules:
        module = importlib.import_module(module_name)
        module.register_services(state.registry)
    return app
