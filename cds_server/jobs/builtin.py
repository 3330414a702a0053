"""The job kinds this server runs: the built-in ones and those of ``CDS_JOB_MODULES``."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from cds_server.jobs import population
from cds_server.jobs import trajectory
from cds_server.jobs.kinds import JobKinds


def job_kinds(modules: Sequence[str] = ()) -> JobKinds:
    kinds = JobKinds()
    kinds.register(population.KIND_SPEC)
    kinds.register(trajectory.KIND_SPEC)
    for name in modules:
        importlib.import_module(name).register_jobs(kinds)
    return kinds
