"""The job tables' rules on SQLite and PostgreSQL: one transaction per acceptance, claims, leases,
fan-out and finalisation, the outbox relay and the reaper."""

from __future__ import annotations

import pytest

from cds_server.errors import Conflict
from cds_server.errors import JobNotFound
from cds_server.jobs.claims import HOST
from cds_server.jobs.claims import ClaimResult
from cds_server.jobs.claims import Finish
from cds_server.jobs.claims import claim_token
from cds_server.jobs.outbox import BrokerUnavailable
from cds_server.jobs.outbox import relay_once
from cds_server.jobs.reaper import ReaperPolicy
from cds_server.jobs.reaper import reap
from cds_server.jobs.records import Owner
from cds_server.jobs.records import ResultRow
from cds_server.jobs.retention import purge_job_snapshots
from cds_server.jobs.states import JobStatus
from tests.integration.jobs.conftest import LEASE_S
from tests.integration.jobs.conftest import JobTables
from tests.integration.jobs.conftest import table_rows

pytestmark = pytest.mark.integration

OWNER = Owner("https://ehr.example.org", "tenant-a")
POLICY = ReaperPolicy(requeue_after_s=600, expire_after_s=86400)


class RecordingPublisher:
    def __init__(self, *, fail_after: int | None = None) -> None:
        self.sent: list[tuple[str, int]] = []
        self.fail_after = fail_after

    def publish(self, job_id: str, unit: int) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise BrokerUnavailable("down")
        self.sent.append((job_id, unit))


def submit(tables: JobTables, **params: object) -> str:
    return tables.store.submit(owner=OWNER, kind="test-sleep", params=params, request_id="req-1").id


def test_accepting_a_job_commits_the_job_its_unit_and_its_message_together(tables: JobTables) -> None:
    job_id = submit(tables)
    assert tables.rows.count("job") == 1
    assert tables.rows.count("job_unit") == 1
    (outbox,) = tables.rows.rows("job_outbox")
    assert (outbox["job_id"], outbox["unit"]) == (job_id, 0)
    view = tables.store.get(OWNER, job_id)
    assert view.status is JobStatus.QUEUED
    assert (view.attempts, view.max_attempts, view.units.queued) == (0, 3, 1)


def test_another_clients_job_is_answered_like_an_unknown_one(tables: JobTables) -> None:
    job_id = submit(tables)
    for owner in (Owner("https://ehr.example.org", "tenant-b"), Owner("https://other.example.org")):
        with pytest.raises(JobNotFound):
            tables.store.get(owner, job_id)
        with pytest.raises(JobNotFound):
            tables.store.cancel(owner, job_id)
    for unknown in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(JobNotFound):
            tables.store.get(OWNER, unknown)


def test_the_relay_sends_due_messages_once_and_keeps_the_rest_when_the_broker_fails(
    tables: JobTables,
) -> None:
    first, second = submit(tables), submit(tables)
    publisher = RecordingPublisher(fail_after=1)
    assert relay_once(tables.database, publisher, clock=tables.clock) == 1
    assert publisher.sent == [(first, 0)]
    assert [row["job_id"] for row in tables.rows.rows("job_outbox")] == [second]
    publisher.fail_after = None
    assert relay_once(tables.database, publisher, clock=tables.clock) == 1
    assert relay_once(tables.database, publisher, clock=tables.clock) == 0
    assert publisher.sent == [(first, 0), (second, 0)]
    assert all(unit["last_published_at"] is not None for unit in table_rows(tables.rows, "job_unit"))


def test_a_claim_is_exclusive_while_its_lease_lasts(tables: JobTables) -> None:
    job_id = submit(tables)
    result, claim = tables.claims.claim(job_id, 0, token=claim_token())
    assert result is ClaimResult.CLAIMED
    assert claim is not None
    assert claim.attempt == 1
    assert tables.store.get(OWNER, job_id).status is JobStatus.RUNNING
    assert tables.claims.claim(job_id, 0, token=claim_token()) == (ClaimResult.DUPLICATE, None)
    tables.clock.advance(LEASE_S + 1)
    result, second = tables.claims.claim(job_id, 0, token=claim_token())
    assert result is ClaimResult.CLAIMED
    assert second is not None
    assert second.attempt == 2
    # the first holder lost its claim: it can neither renew nor finish
    assert not tables.claims.renew(claim)
    assert not tables.claims.finish(claim, Finish(rows=[ResultRow(0, "scored")]))
    assert tables.rows.count("job_result") == 0
    assert tables.claims.finish(second, Finish(rows=[ResultRow(0, "scored", outputs={"x": 1.0})], done=1))
    view = tables.store.get(OWNER, job_id)
    assert view.status is JobStatus.SUCCEEDED
    assert view.attempts == 2
    assert view.result == {"rows": {"scored": 1}}
    assert tables.claims.claim(job_id, 0, token=claim_token()) == (ClaimResult.FINISHED, None)


def test_a_claim_held_by_a_dead_process_on_this_host_is_taken_over_at_once(tables: JobTables) -> None:
    job_id = submit(tables)
    _, claim = tables.claims.claim(job_id, 0, token=f"{HOST}:999999999:gone")
    assert claim is not None
    # pid 999999999 does not exist: the redelivered message need not wait for the lease
    result, second = tables.claims.claim(job_id, 0, token=claim_token())
    assert result is ClaimResult.CLAIMED
    assert second is not None
    assert second.attempt == 2


def test_a_unit_claimed_max_attempts_times_fails_its_job_as_poison(tables: JobTables) -> None:
    job_id = submit(tables)
    for _ in range(3):
        result, _claim = tables.claims.claim(job_id, 0, token=claim_token())
        assert result is ClaimResult.CLAIMED
        tables.clock.advance(LEASE_S + 1)
    assert tables.claims.claim(job_id, 0, token=claim_token()) == (ClaimResult.POISON, None)
    view = tables.store.get(OWNER, job_id)
    assert (view.status, view.error_code, view.attempts) == (JobStatus.FAILED, "too-many-attempts", 3)
    assert "3 times" in (view.error_message or "")


def test_fan_out_finalises_the_job_when_the_last_chunk_finishes(tables: JobTables) -> None:
    job_id = submit(tables)
    _, main = tables.claims.claim(job_id, 0, token=claim_token())
    assert main is not None
    assert tables.claims.finish(main, Finish(fan_out=[{"n": 0}, {"n": 1}], total=4, summary={"patients": 4}))
    assert tables.rows.count("job_outbox") == 3  # unit 0's, never relayed here, and two chunks
    claims = []
    for unit in (1, 2):
        _, claim = tables.claims.claim(job_id, unit, token=claim_token())
        assert claim is not None
        assert claim.payload == {"n": unit - 1}
        claims.append(claim)
    rows = [ResultRow(0, "scored", outputs={"r": 0.1}), ResultRow(1, "not-scored", reason="age missing")]
    assert tables.claims.finish(claims[0], Finish(rows=rows, done=2))
    assert tables.store.get(OWNER, job_id).status is JobStatus.RUNNING
    assert tables.claims.finish(
        claims[1], Finish(rows=[ResultRow(2, "scored"), ResultRow(3, "scored")], done=2)
    )
    view = tables.store.get(OWNER, job_id)
    assert view.status is JobStatus.SUCCEEDED
    assert (view.progress_done, view.progress_total) == (4, 4)
    assert view.result == {"patients": 4, "rows": {"scored": 3, "not-scored": 1}}
    assert [row.seq for row in tables.store.rows(job_id)] == [0, 1, 2, 3]


def test_a_failed_chunk_fails_the_job_and_cancels_the_other_chunks(tables: JobTables) -> None:
    job_id = submit(tables)
    _, main = tables.claims.claim(job_id, 0, token=claim_token())
    assert main is not None
    tables.claims.finish(main, Finish(fan_out=[{}, {}]))
    _, chunk = tables.claims.claim(job_id, 1, token=claim_token())
    assert chunk is not None
    assert tables.claims.fail(chunk, "write-back-refused", "The FHIR server refused.")
    view = tables.store.get(OWNER, job_id)
    assert (view.status, view.error_code) == (JobStatus.FAILED, "write-back-refused")
    assert (view.units.done, view.units.failed, view.units.cancelled) == (1, 1, 1)
    assert tables.rows.count("job_outbox") == 0
    assert tables.claims.claim(job_id, 2, token=claim_token()) == (ClaimResult.FINISHED, None)


def test_cancel_stops_a_running_job_and_refuses_its_results(tables: JobTables) -> None:
    job_id = submit(tables)
    _, claim = tables.claims.claim(job_id, 0, token=claim_token())
    assert claim is not None
    view = tables.store.cancel(OWNER, job_id)
    assert (view.status, view.error_code) == (JobStatus.CANCELLED, "cancelled")
    assert not tables.claims.renew(claim)
    assert not tables.claims.finish(claim, Finish(rows=[ResultRow(0, "scored")]))
    assert tables.rows.count("job_result") == 0
    assert tables.store.cancel(OWNER, job_id).status is JobStatus.CANCELLED  # idempotent
    assert tables.rows.count("job_outbox") == 0


def test_a_finished_job_cannot_be_cancelled(tables: JobTables) -> None:
    job_id = submit(tables)
    _, claim = tables.claims.claim(job_id, 0, token=claim_token())
    assert claim is not None
    tables.claims.finish(claim, Finish())
    with pytest.raises(Conflict):
        tables.store.cancel(OWNER, job_id)


def test_a_transient_failure_hands_the_unit_back_for_later(tables: JobTables) -> None:
    job_id = submit(tables)
    relay_once(tables.database, RecordingPublisher(), clock=tables.clock)
    _, claim = tables.claims.claim(job_id, 0, token=claim_token())
    assert claim is not None
    assert tables.claims.release(claim, "timeout", retry_in_s=60)
    publisher = RecordingPublisher()
    assert relay_once(tables.database, publisher, clock=tables.clock) == 0  # not due yet
    tables.clock.advance(61)
    assert relay_once(tables.database, publisher, clock=tables.clock) == 1
    assert tables.store.get(OWNER, job_id).status is JobStatus.RUNNING


def test_the_reaper_hands_on_units_whose_worker_vanished_then_fails_them_as_poison(tables: JobTables) -> None:
    job_id = submit(tables)
    for attempt in (1, 2, 3):
        _, claim = tables.claims.claim(job_id, 0, token=claim_token())
        assert claim is not None
        assert claim.attempt == attempt
        tables.clock.advance(LEASE_S + 1)
        report = reap(tables.database, POLICY, clock=tables.clock)
        if attempt < 3:
            assert report.requeued == 1
            assert tables.rows.count("job_outbox") == attempt + 1
        else:
            assert report.poisoned == 1
    view = tables.store.get(OWNER, job_id)
    assert (view.status, view.error_code) == (JobStatus.FAILED, "too-many-attempts")
    assert tables.rows.count("job_outbox") == 0


def test_the_reaper_republishes_lost_messages_and_expires_old_jobs(tables: JobTables) -> None:
    lost = submit(tables)
    relay_once(tables.database, RecordingPublisher(), clock=tables.clock)
    tables.clock.advance(POLICY.requeue_after_s + 1)
    assert reap(tables.database, POLICY, clock=tables.clock).republished == 1
    assert reap(tables.database, POLICY, clock=tables.clock).republished == 0  # its message is pending
    assert [row["job_id"] for row in tables.rows.rows("job_outbox")] == [lost]
    tables.clock.advance(POLICY.expire_after_s)
    assert reap(tables.database, POLICY, clock=tables.clock).expired == 1
    view = tables.store.get(OWNER, lost)
    assert (view.status, view.error_code) == (JobStatus.FAILED, "expired")
    assert view.finished_at == tables.clock.now


def test_the_retention_purge_clears_snapshots_of_finished_jobs_only(tables: JobTables) -> None:
    snapshot = {"patient": {"resourceType": "Patient", "id": "p"}}
    finished = tables.store.submit(owner=OWNER, kind="k", params={}, request_id="r", snapshot=snapshot).id
    running = tables.store.submit(owner=OWNER, kind="k", params={}, request_id="r", snapshot=snapshot).id
    _, claim = tables.claims.claim(finished, 0, token=claim_token())
    assert claim is not None
    tables.claims.finish(claim, Finish())
    tables.claims.claim(running, 0, token=claim_token())
    tables.clock.advance(31 * 86400)
    engine = tables.rows.engine
    assert purge_job_snapshots(engine, older_than_days=30, dry_run=True, clock=tables.clock) == 1
    assert purge_job_snapshots(engine, older_than_days=30, clock=tables.clock) == 1
    kept = {row["id"]: row["snapshot"] for row in table_rows(tables.rows, "job")}
    assert kept == {finished: None, running: snapshot}
