"""Worker entry for Celery's own command line: ``celery -A cds_server.celery_worker worker``.

It builds the application with :func:`cds_server.create_app`, as gunicorn's workers do, and exposes its
Celery app (with the job task and the outbox relay and reaper step). ``cds-server worker`` does the same
with the right options; prefer it.
"""

from cds_server import create_app
from cds_server.tasks import make_celery

flask_app = create_app()
celery = make_celery(flask_app)
