"""Job kinds for the tests (``CDS_JOB_MODULES=tests.support.jobs``): jobs that succeed, sleep, crash.

``test-sleep`` sleeps in small steps (checking its lease, so a cancel stops it) and succeeds with one
result row; ``crash`` kills its own process (SIGKILL: what the OOM killer does) at every attempt, the
poison job; ``crash-once`` kills its process at its first attempt only; ``test-fail`` fails for good.
Each writes a marker file per attempt when ``markers`` names a folder, so tests can see attempts and
know when a unit is running (to kill its worker then).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from cds_server.jobs.claims import Finish
from cds_server.jobs.context import JobContext
from cds_server.jobs.errors import JobFailed
from cds_server.jobs.kinds import JobKind
from cds_server.jobs.kinds import JobKinds
from cds_server.jobs.records import ResultRow


class TestParams(BaseModel):
    __test__ = False
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=0.0, ge=0, le=120)
    markers: str | None = None
    #: a string that must never leave the database (PHI canary tests put a fake name here)
    note: str | None = None


def _mark(ctx: JobContext, params: TestParams) -> None:
    if params.markers:
        folder = Path(params.markers)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{ctx.job.id}.{ctx.unit}.{ctx.claim.attempt}.{os.getpid()}").touch()


def _sleep(ctx: JobContext, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        ctx.check()
        time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def run_sleep(ctx: JobContext) -> Finish:
    params = TestParams.model_validate(ctx.job.params)
    _mark(ctx, params)
    _sleep(ctx, params.seconds)
    row = ResultRow(seq=0, status="scored", outputs={"slept": params.seconds})
    return Finish(
        rows=[row], summary={"slept": params.seconds, "attempt": ctx.claim.attempt}, done=1, total=1
    )


def run_crash(ctx: JobContext) -> Finish:
    params = TestParams.model_validate(ctx.job.params)
    _mark(ctx, params)
    _sleep(ctx, params.seconds)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")


def run_crash_once(ctx: JobContext) -> Finish:
    params = TestParams.model_validate(ctx.job.params)
    _mark(ctx, params)
    _sleep(ctx, params.seconds)
    if ctx.claim.attempt == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return Finish(rows=[ResultRow(seq=0, status="scored", outputs={"attempt": ctx.claim.attempt})], done=1)


def run_fail(ctx: JobContext) -> Finish:
    raise JobFailed("test-failure", "This job always fails.")


def register_jobs(kinds: JobKinds) -> None:
    kinds.register(JobKind("test-sleep", TestParams, run_sleep, "Sleeps, then succeeds."))
    kinds.register(JobKind("crash", TestParams, run_crash, "Kills its own process at every attempt."))
    kinds.register(JobKind("crash-once", TestParams, run_crash_once, "Kills its process at attempt 1."))
    kinds.register(JobKind("test-fail", TestParams, run_fail, "Fails for good."))
