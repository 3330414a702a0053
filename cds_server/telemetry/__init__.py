"""What an operator sees without reading code: Prometheus metrics and the log format.

The metrics are process-wide (prometheus_client's registry); ``cds-server serve`` runs gunicorn with a
per-run multiprocess directory so that ``/metrics`` adds up every worker (:mod:`.multiprocess`).
Labels are low-cardinality by construction: service ids, hooks and models come from the registries,
statuses and reasons from fixed sets; never a patient, a user, a URL or an issuer.
"""
