"""The record as it stood at a past moment: later resources left out, statuses as they were then."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from cds_server.jobs.history import as_of
from cds_server.jobs.history import merge
from cds_server.jobs.history import resources_of

THEN = datetime(2019, 6, 1, tzinfo=UTC)


def condition(onset: str, status: str, abated: str | None = None) -> dict[str, object]:
    resource: dict[str, object] = {
        "resourceType": "Condition",
        "id": f"c-{onset}-{status}",
        "onsetDateTime": onset,
        "clinicalStatus": {"coding": [{"code": status}]},
    }
    if abated:
        resource["abatementDateTime"] = abated
    return resource


def statuses(resources: list[dict[str, object]]) -> list[str]:
    return [r["clinicalStatus"]["coding"][0]["code"] for r in resources]  # type: ignore[index]


def test_later_resources_are_left_out() -> None:
    later = {"resourceType": "Observation", "id": "o2", "effectiveDateTime": "2020-01-01"}
    earlier = {"resourceType": "Observation", "id": "o1", "effectiveDateTime": "2018-01-01"}
    undated = {"resourceType": "Patient", "id": "p"}
    assert as_of([later, earlier, undated], THEN) == [earlier, undated]


def test_conditions_are_shown_as_they_were() -> None:
    resolved_since = condition("2018-01-01", "resolved", abated="2020-01-01")
    resolved_before = condition("2017-01-01", "active", abated="2018-01-01")
    resolved_no_date = condition("2017-01-01", "resolved")
    active = condition("2018-01-01", "active")
    view = as_of([resolved_since, resolved_before, resolved_no_date, active], THEN)
    assert statuses(view) == ["active", "resolved", "resolved", "active"]
    assert resolved_since["clinicalStatus"] == {"coding": [{"code": "resolved"}]}  # the input is not changed


def test_a_stopped_medication_counts_only_while_its_known_end_is_ahead() -> None:
    def medication(end: str | None) -> dict[str, object]:
        resource: dict[str, object] = {
            "resourceType": "MedicationRequest",
            "status": "stopped",
            "authoredOn": "2018-01-01",
        }
        if end:
            resource["dispenseRequest"] = {"validityPeriod": {"end": end}}
        return resource

    assert [
        r["status"]
        for r in as_of([medication("2020-01-01"), medication("2019-01-01"), medication(None)], THEN)
    ] == [
        "active",
        "stopped",
        "stopped",
    ]


def test_prefetch_resources_and_merge_by_identity() -> None:
    prefetch = {
        "patient": {"resourceType": "Patient", "id": "p"},
        "obs": {
            "resourceType": "Bundle",
            "entry": [{"resource": {"resourceType": "Observation", "id": "o"}}],
        },
        "failed": {"resourceType": "OperationOutcome"},
        "none": None,
    }
    found = resources_of(prefetch)
    assert [(r["resourceType"], r["id"]) for r in found] == [("Patient", "p"), ("Observation", "o")]
    newer = {"resourceType": "Observation", "id": "o", "status": "amended"}
    assert merge(found, [newer])[1] is newer
