"""The job state machine, as data: what a job and each of its work units may become next.

A **job** is what a client sees (``GET /jobs/{id}``); it only ever moves forward::

    QUEUED ──▶ RUNNING ──▶ SUCCEEDED
       │          ├──────▶ FAILED
       │          └──────▶ CANCELLED
       ├─────────────────▶ FAILED      (expired, or poison before any worker finished claiming it)
       └─────────────────▶ CANCELLED

Terminal states are absorbing. A job is carried out by one or more **units** (unit 0 runs the job; a
population job fans its chunks out as units 1..N). A unit may go back from RUNNING to QUEUED — its
worker vanished (lease expired) or hit a transient error — and that loop is bounded by the attempt
counter: a unit claimed ``max_attempts`` times without finishing fails, and so does its job.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping


class JobStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_JOB


class UnitStatus(enum.StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_UNIT


TERMINAL_JOB = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
TERMINAL_UNIT = frozenset({UnitStatus.DONE, UnitStatus.FAILED, UnitStatus.CANCELLED})

JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}

UNIT_TRANSITIONS: Mapping[UnitStatus, frozenset[UnitStatus]] = {
    UnitStatus.QUEUED: frozenset({UnitStatus.RUNNING, UnitStatus.FAILED, UnitStatus.CANCELLED}),
    # back to QUEUED: lease expired or transient error, bounded by the attempt counter
    UnitStatus.RUNNING: frozenset(
        {UnitStatus.QUEUED, UnitStatus.DONE, UnitStatus.FAILED, UnitStatus.CANCELLED}
    ),
    UnitStatus.DONE: frozenset(),
    UnitStatus.FAILED: frozenset(),
    UnitStatus.CANCELLED: frozenset(),
}


def job_may_become(current: JobStatus, target: JobStatus) -> bool:
    return target in JOB_TRANSITIONS[current]


def unit_may_become(current: UnitStatus, target: UnitStatus) -> bool:
    return target in UNIT_TRANSITIONS[current]


def sources_of(target: JobStatus) -> tuple[str, ...]:
    """The job states from which ``target`` is reachable: the ``WHERE status IN (...)`` of an update."""
    return tuple(sorted(state.value for state, targets in JOB_TRANSITIONS.items() if target in targets))
