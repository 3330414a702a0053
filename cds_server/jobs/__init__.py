"""Diagnostic jobs: work that does not fit in a hook call, run on Celery workers, always finished.

The domain lives here; Celery only delivers ``(job_id, unit)`` (:mod:`cds_server.tasks`). Read
``docs/jobs.md`` for the state machine and the delivery guarantees. In short:

* :mod:`~cds_server.jobs.store` accepts a job (job + first unit + outbox message, one transaction), reads,
  cancels and lists results, always scoped to the owning client;
* :mod:`~cds_server.jobs.claims` is the workers' side: claim a unit (attempt counter, lease), renew,
  finish (results and DONE in one transaction), fail, hand back;
* :mod:`~cds_server.jobs.outbox` (relay) and :mod:`~cds_server.jobs.reaper` run in every worker;
* :mod:`~cds_server.jobs.runner` runs one delivered unit; kinds: :mod:`~cds_server.jobs.population`,
  :mod:`~cds_server.jobs.trajectory`.
"""
