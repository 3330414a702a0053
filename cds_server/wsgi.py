"""WSGI entry point for any WSGI server: ``gunicorn cds_server.wsgi:app``."""

from cds_server import create_app

app = create_app()
