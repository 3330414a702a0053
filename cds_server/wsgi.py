"""WSGI entry point for any WSGI server: ``gunicorn cds_server.wsgi:app``.

Run this way, each gunicorn worker counts its own metrics unless ``PROMETHEUS_MULTIPROC_DIR`` names an
empty directory shared by the workers (``cds-server serve`` sets one up per run).
"""

from cds_server import create_app
from cds_server.config import load_settings
from cds_server.telemetry.logs import configure_logging

_settings = load_settings()
configure_logging(_settings.log_format, app_level=_settings.log_level)
app = create_app()
