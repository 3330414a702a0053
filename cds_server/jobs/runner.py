"""Run one delivered unit: claim it, do its work under a lease, record how it ended.

This is all a Celery task does (``cds_server.tasks``). Whatever happens, the unit ends in a state
the reaper understands: done, failed, handed back for a retry, or — when this process dies — RUNNING
with a lease that runs out.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Sequence

from cds_server.errors import DatabaseUnavailable
from cds_server.jobs.claims import Claim
from cds_server.jobs.claims import Finish
from cds_server.jobs.claims import JobClaims
from cds_server.jobs.claims import claim_token
from cds_server.jobs.context import JobContext
from cds_server.jobs.context import JobDeps
from cds_server.jobs.errors import JobAbandoned
from cds_server.jobs.errors import JobFailed
from cds_server.jobs.errors import JobRetry
from cds_server.jobs.kinds import JobKinds
from cds_server.jobs.lease import Lease

log = logging.getLogger(__name__)

#: the longest a transient failure waits before its retry, in seconds
MAX_RETRY_DELAY_S = 300.0


def run_unit(
    deps: JobDeps,
    claims: JobClaims,
    kinds: JobKinds,
    job_id: str,
    unit: int,
    *,
    timeouts: Sequence[type[BaseException]] = (),
) -> str:
    """Carry out one delivery of ``(job_id, unit)``; returns a short, content-free outcome word.

    ``timeouts`` are the exceptions that mean "out of time" (Celery's soft time limit).
    """
    result, claim = claims.claim(job_id, unit, token=claim_token())
    if claim is None:
        log.info("job %s unit %d: %s, nothing to do", job_id, unit, result.value)
        return result.value
    log.info("job %s unit %d: attempt %d of kind %s", job_id, unit, claim.attempt, claim.job.kind)
    kind = kinds.find(claim.job.kind)
    if kind is None:
        claims.fail(claim, "unknown-kind", "This worker does not know the job's kind.")
        return "failed"
    settings = deps.settings
    with Lease(claims, claim, heartbeat_s=settings.job_heartbeat_s, lease_s=settings.job_lease_s) as lease:
        try:
            finish: Finish = kind.run(JobContext(claim, deps, lease, claims))
            lease.check()
        except Exception as error:
            return _ended_early(error, claim, claims, deps, timeouts)
    if not claims.finish(claim, finish):
        log.info("job %s unit %d: finished, but the claim was gone; results discarded", job_id, unit)
        return "abandoned"
    log.info("job %s unit %d: done", job_id, unit)
    return "done"


def _ended_early(
    error: Exception, claim: Claim, claims: JobClaims, deps: JobDeps, timeouts: Sequence[type[BaseException]]
) -> str:
    """Record why a unit stopped before finishing; returns the outcome word."""
    where = f"job {claim.job_id} unit {claim.unit}"
    if isinstance(error, JobAbandoned):
        log.info("%s: abandoned (cancelled or handed on)", where)
        outcome = "abandoned"
    elif isinstance(error, JobFailed):
        log.info("%s: failed (%s)", where, error.code)
        claims.fail(claim, error.code, error.message)
        outcome = "failed"
    elif isinstance(error, JobRetry):
        delay = min(MAX_RETRY_DELAY_S, deps.settings.job_heartbeat_s * 2**claim.attempt)
        log.info("%s: transient failure (%s), retry in %.1f s", where, error.code, delay)
        claims.release(claim, error.code, retry_in_s=delay)
        outcome = "retry"
    elif isinstance(error, tuple(timeouts)):
        log.info("%s: out of time", where)
        claims.fail(claim, "timeout", "The job ran past its time limit.")
        outcome = "timeout"
    elif isinstance(error, DatabaseUnavailable):
        # nothing can be recorded; the lease runs out and the reaper hands the unit on
        log.warning("%s: database unavailable; left to the reaper", where)
        outcome = "database-unavailable"
    else:
        _log_crash(where, error)
        claims.fail(
            claim, "internal-error", f"The job failed with an internal error ({type(error).__name__})."
        )
        outcome = "failed"
    return outcome


def _log_crash(where: str, error: Exception) -> None:
    # The message may quote patient data; the type and where it was raised are enough to find the bug.
    frames = traceback.extract_tb(error.__traceback__)
    trace = " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in frames[::-1][:8])
    log.error("%s: unhandled %s at %s", where, type(error).__name__, trace)
