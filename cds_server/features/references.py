"""FHIR references: does a resource belong to this patient, and which Medication does it point at."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def resource_label(resource: dict[str, Any]) -> str:
    """``Type/id`` for provenance (``Type/?`` when the id is missing or not a string)."""
    resource_id = resource.get("id")
    return f"{resource.get('resourceType')}/{resource_id if isinstance(resource_id, str) else '?'}"


def refers_to(reference: object, resource_type: str, resource_id: str) -> bool:
    """Whether a reference string points at ``resource_type/resource_id``.

    Accepts relative (``Patient/1``), absolute (``https://ehr/fhir/Patient/1``), versioned
    (``.../_history/2``) and ``urn:uuid:`` forms (transaction bundles such as Synthea's use the
    resource id as the uuid).
    """
    if not isinstance(reference, str):
        return False
    path = reference.split("/_history/", 1)[0]
    if path == f"urn:uuid:{resource_id}":
        return True
    return path == f"{resource_type}/{resource_id}" or path.endswith(f"/{resource_type}/{resource_id}")


def subject_reference(resource: dict[str, Any]) -> object:
    subject = resource.get("subject")
    return subject.get("reference") if isinstance(subject, dict) else None


def belongs_to(resource: dict[str, Any], patient_id: str) -> bool:
    if resource.get("resourceType") == "Patient":
        return resource.get("id") == patient_id
    return refers_to(subject_reference(resource), "Patient", patient_id)


def medication_keys(full_url: str | None, medication: dict[str, Any]) -> list[str]:
    """The keys under which a Medication can be found from a reference."""
    keys = [full_url] if full_url else []
    if isinstance(medication.get("id"), str):
        keys.append(f"Medication/{medication['id']}")
    return keys


def resolve_medication(
    request: dict[str, Any], index: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any] | None, str | None]:
    """``(Medication, reference)`` for a MedicationRequest's ``medicationReference``.

    Looks in ``contained`` for ``#id``, then in the Medications found anywhere in the prefetch
    (by fullUrl, then by ``Medication/id``).
    """
    reference_element = request.get("medicationReference")
    if not isinstance(reference_element, dict):
        return None, None
    reference = reference_element.get("reference")
    if not isinstance(reference, str):
        return None, None
    if reference.startswith("#"):
        contained_resources = request.get("contained")
        for contained in contained_resources if isinstance(contained_resources, list) else []:
            if (
                isinstance(contained, dict)
                and contained.get("resourceType") == "Medication"
                and contained.get("id") == reference[1:]
            ):
                return contained, reference
        return None, reference
    path = reference.split("/_history/", 1)[0]
    found = index.get(path)
    if found is None and "/Medication/" in path:
        found = index.get("Medication/" + path.rsplit("/Medication/", 1)[1])
    return found, reference
