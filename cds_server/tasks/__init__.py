"""Celery: the app built from the settings, the one task, and the worker's parts.

The task is named, takes ids only (a job id and a unit number) and calls domain code
(:func:`cds_server.jobs.runner.run_unit`); it returns a short outcome word. Nothing else crosses the
broker: results live in our tables, and there is no result backend.
"""

from cds_server.tasks.celery_app import TASK_NAME
from cds_server.tasks.celery_app import broker_url
from cds_server.tasks.celery_app import celery_config
from cds_server.tasks.celery_app import make_celery

__all__ = ["TASK_NAME", "broker_url", "celery_config", "make_celery"]
