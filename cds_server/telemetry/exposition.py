"""The ``/metrics`` body: the recorded metrics (of every gunicorn worker) plus state read at scrape time.

Under ``cds-server serve`` each worker writes its samples to files in the run's multiprocess directory
and whichever worker answers the scrape adds them all up. Gauges that describe shared state — job
counts, model readiness, whether the database answers — are read when scraped instead, so a job
finished by a worker on another host is counted as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from cds_server import __version__
from cds_server.inference.results import ModelStatus
from cds_server.telemetry.multiprocess import MULTIPROC_ENV

#: finished jobs are counted over this window; queued and running ones whatever their age
JOB_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class ScrapeSources:
    """Where scrape-time gauges come from (the app's state, as plain callables for tests)."""

    models: Callable[[], Mapping[str, ModelStatus]]
    database_ok: Callable[[], bool]
    #: ``since`` → ``{(kind, status): count}``; raises when the database cannot answer
    job_counts: Callable[[datetime], Mapping[tuple[str, str], int]]


class _StateCollector(Collector):
    def __init__(self, sources: ScrapeSources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("cds_build_info", "This server's version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield self._models()
        up = self.sources.database_ok()
        database = GaugeMetricFamily("cds_database_up", "1 when the database answered the scrape's query.")
        database.add_metric([], 1 if up else 0)
        yield database
        if up:
            yield self._jobs()

    def _models(self) -> Metric:
        ready = GaugeMetricFamily(
            "cds_model_ready",
            "1 when a deployed model version is loaded and can score, by role (active or shadow).",
            labels=["model", "version", "provider", "role"],
        )
        for model_id, status in sorted(self.sources.models().items()):
            ready.add_metric(
                [model_id, status.active_version or "", status.provider or "", "active"], int(status.ready)
            )
            for shadow in status.shadow:
                ready.add_metric(
                    [model_id, shadow.version, shadow.provider or "", "shadow"], int(shadow.ready)
                )
        return ready

    def _jobs(self) -> Metric:
        jobs = GaugeMetricFamily(
            "cds_jobs",
            "Diagnostic jobs by kind and status: every queued or running job, and those created in the "
            "last 24 hours that ended.",
            labels=["kind", "status"],
        )
        counts = self.sources.job_counts(datetime.now(UTC) - JOB_WINDOW)
        for (kind, status), count in sorted(counts.items()):
            jobs.add_metric([kind, status], count)
        return jobs


class _Forward(Collector):
    """This process's own registry, for a server that runs in one process (no multiprocess directory)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def metrics_text(sources: ScrapeSources) -> bytes:
    """The Prometheus text exposition of everything above."""
    registry = CollectorRegistry(auto_describe=False)
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward())
    registry.register(_StateCollector(sources))
    return generate_latest(registry)
