"""A hypothesis state machine over the job tables: any interleaving of submissions, deliveries
(duplicates included), finishes, failures, retries, crashed holders, cancels, reaper and relay runs and
clock jumps keeps the rules — job states only move forward and terminal states are absorbing, a unit
is never held twice at once, attempts never exceed the maximum, results exist only for finished
units — and once deliveries resume, every accepted job ends SUCCEEDED, FAILED or CANCELLED."""

from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import initialize
from hypothesis.stateful import invariant
from hypothesis.stateful import rule
from sqlalchemy import select

from cds_server.config import load_settings
from cds_server.errors import Conflict
from cds_server.jobs.claims import Claim
from cds_server.jobs.claims import ClaimResult
from cds_server.jobs.claims import Finish
from cds_server.jobs.claims import JobClaims
from cds_server.jobs.claims import claim_token
from cds_server.jobs.outbox import relay_once
from cds_server.jobs.reaper import ReaperPolicy
from cds_server.jobs.reaper import reap
from cds_server.jobs.records import Owner
from cds_server.jobs.records import ResultRow
from cds_server.jobs.states import JobStatus
from cds_server.jobs.states import job_may_become
from cds_server.jobs.store import JobStore
from cds_server.persistence.database import open_database
from cds_server.persistence.job_tables import Job
from cds_server.persistence.job_tables import JobResult
from cds_server.persistence.job_tables import JobUnit
from tests.integration.jobs.conftest import FakeClock
from tests.support.databases import migrated_sqlite

pytestmark = pytest.mark.integration

LEASE_S = 10.0
MAX_ATTEMPTS = 3
POLICY = ReaperPolicy(requeue_after_s=60, expire_after_s=3600)
OWNER = Owner("https://ehr.example.org")


@functools.cache
def _template() -> Path:
    return migrated_sqlite(Path(tempfile.mkdtemp(prefix="cds-machine-")) / "template.db")


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def publish(self, job_id: str, unit: int) -> None:
        self.sent.append((job_id, unit))


class JobLifecycle(RuleBasedStateMachine):
    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="cds-machine-run-"))
        shutil.copyfile(_template(), self.folder / "jobs.db")
        self.clock = FakeClock()
        self.db = open_database(load_settings({"database_url": f"sqlite:///{self.folder / 'jobs.db'}"}))
        self.store = JobStore(self.db, max_attempts=MAX_ATTEMPTS, clock=self.clock)
        self.claims = JobClaims(self.db, lease_s=LEASE_S, clock=self.clock)
        self.publisher = Publisher()
        self.holders: list[Claim] = []
        #: when each claim was made (the machine never renews, so its lease ends LEASE_S later)
        self.claimed_at: dict[str, Any] = {}
        self.seen: dict[str, JobStatus] = {}

    @initialize()
    def start(self) -> None:
        self.submit_job()

    @rule(target=jobs)
    def submit_job(self) -> str:
        return self.store.submit(owner=OWNER, kind="test-sleep", params={}, request_id="m").id

    @rule(job=jobs, unit=st.integers(0, 2))
    def deliver(self, job: str, unit: int) -> None:
        live = [c for c in self.holders if (c.job_id, c.unit) == (job, unit)]
        result, claim = self.claims.claim(job, unit, token=claim_token())
        if claim is not None:
            # a second claim only when every earlier holder's lease had run out
            for other in live:
                expired = self.clock.now >= self.claimed_at[other.token] + timedelta(seconds=LEASE_S)
                assert expired, "a unit was claimed twice while its lease held"
            assert claim.attempt <= MAX_ATTEMPTS
            self.holders.append(claim)
            self.claimed_at[claim.token] = self.clock.now
        else:
            assert result in set(ClaimResult)

    @rule(data=st.data(), fan_out=st.integers(0, 2))
    def finish(self, data: st.DataObject, fan_out: int) -> None:
        if not self.holders:
            return
        claim = self.holders.pop(data.draw(st.integers(0, len(self.holders) - 1)))
        chunks = [{"n": i} for i in range(fan_out)] if claim.unit == 0 else []
        rows = [ResultRow(seq=claim.unit * 10, status="scored", outputs={"x": 1.0})]
        self.claims.finish(claim, Finish(rows=rows, fan_out=chunks, done=1))

    @rule(data=st.data(), how=st.sampled_from(["fail", "retry", "crash"]))
    def stop_holder(self, data: st.DataObject, how: str) -> None:
        if not self.holders:
            return
        claim = self.holders.pop(data.draw(st.integers(0, len(self.holders) - 1)))
        if how == "fail":
            self.claims.fail(claim, "test-failure", "failed on purpose")
        elif how == "retry":
            self.claims.release(claim, "transient", retry_in_s=5)
        # "crash": the process died; it writes nothing and its lease runs out

    @rule(job=jobs)
    def cancel(self, job: str) -> None:
        with contextlib.suppress(Conflict):  # already finished: cancelling it is refused
            self.store.cancel(OWNER, job)

    @rule(seconds=st.sampled_from([1.0, 6.0, LEASE_S + 1, POLICY.requeue_after_s + 1]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def reaper_runs(self) -> None:
        reap(self.db, POLICY, clock=self.clock)

    @rule()
    def relay_runs(self) -> None:
        relay_once(self.db, self.publisher, clock=self.clock)

    @invariant()
    def states_only_move_forward(self) -> None:
        with self.db.read() as session:
            for job in session.scalars(select(Job)):
                status = JobStatus(job.status)
                before = self.seen.get(job.id)
                if before is not None and before is not status:
                    assert job_may_become(before, status), f"{before} -> {status}"
                self.seen[job.id] = status

    @invariant()
    def attempts_are_bounded_and_results_belong_to_finished_units(self) -> None:
        with self.db.read() as session:
            units = {(u.job_id, u.unit): u for u in session.scalars(select(JobUnit))}
            assert all(u.attempts <= MAX_ATTEMPTS for u in units.values())
            for result in session.scalars(select(JobResult)):
                assert units[(result.job_id, result.seq // 10)].status == "DONE"
            for job in session.scalars(select(Job)):
                mine = [u for (job_id, _), u in units.items() if job_id == job.id]
                if job.status == "SUCCEEDED":
                    assert all(u.status == "DONE" for u in mine)
                if JobStatus(job.status).terminal:
                    assert all(u.status in ("DONE", "FAILED", "CANCELLED") for u in mine)

    def teardown(self) -> None:
        try:
            self._run_to_the_end()
        finally:
            self.db.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def _run_to_the_end(self) -> None:
        """Deliveries resume and every holder crashed: within a bounded number of rounds all jobs end."""
        self.holders.clear()
        for _ in range(4 * MAX_ATTEMPTS + 4):
            self.clock.advance(max(LEASE_S, POLICY.requeue_after_s) + 1)
            reap(self.db, POLICY, clock=self.clock)
            with self.db.read() as session:
                open_units = [
                    (u.job_id, u.unit) for u in session.scalars(select(JobUnit)) if u.status == "QUEUED"
                ]
            for job_id, unit in open_units:
                _, claim = self.claims.claim(job_id, unit, token=claim_token())
                if claim is not None:
                    self.claims.finish(claim, Finish(done=1))
            with self.db.read() as session:
                if all(JobStatus(job.status).terminal for job in session.scalars(select(Job))):
                    return
        with self.db.read() as session:
            stuck: Any = [
                (j.id, j.status) for j in session.scalars(select(Job)) if not JobStatus(j.status).terminal
            ]
        raise AssertionError(f"jobs not terminal after deliveries resumed: {stuck}")


TestJobLifecycle = JobLifecycle.TestCase
TestJobLifecycle.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
