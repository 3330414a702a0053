"""The registration sheet of services registered in code: scopes by compartment, per-hook prefetch."""

from __future__ import annotations

from cds_server.config import load_settings
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import PrefetchSpec
from cds_server.registration.markdown import sheet_markdown
from cds_server.registration.sheet import build_sheet


def service(hook: str, *prefetch: PrefetchSpec) -> CdsService:
    return CdsService(
        id="coded", hook=hook, description="A service in code.", handler=lambda call: [], prefetch=prefetch
    )


def test_scopes_follow_the_template_compartment_and_each_hook_keeps_its_prefetch() -> None:
    patient = PrefetchSpec("patient", "Patient/{{context.patientId}}")
    user = PrefetchSpec("user", "Practitioner/{{userPractitionerId}}", required=False)
    sheet = build_sheet(
        [service("patient-view", patient, user), service("order-sign", patient)],
        load_settings({}, environ={}),
    )
    (entry,) = sheet["services"]
    assert entry["hooks"] == ["patient-view", "order-sign"]
    assert entry["fhirAuthorizationScopes"] == [
        "patient/Patient.read", "patient/Patient.rs", "user/Practitioner.read", "user/Practitioner.rs",
    ]  # fmt: skip
    assert [item["key"] for item in entry["prefetch"]["order-sign"]] == ["patient"]
    assert entry["prefetchSameForEveryHook"] is False
    assert entry["cards"] is None

    text = sheet_markdown(sheet)
    assert "Prefetch templates of `patient-view`:" in text
    assert "Prefetch templates of `order-sign`:" in text
    scopes = "`user/Practitioner.read`, `user/Practitioner.rs`"
    assert f"| `user` | `Practitioner/{{{{userPractitionerId}}}}` | no | {scopes} |" in text
