"""Extraction over every Synthea R4 patient in shared/data/synthea-r4, with every shipped mapping."""

from __future__ import annotations

import json
import math
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cds_server.features import ExclusionReason
from cds_server.features import MappingRegistry
from tests.unit.features.conftest import as_json
from tests.unit.features.conftest import prefetch_from_resources
from tests.unit.features.conftest import synthea_files

FILES = synthea_files()


def test_the_synthea_folder_is_there() -> None:
    assert len(FILES) >= 20, "set CDS_SHARED_DIR to the folder holding data/synthea-r4"


def _load(path: Path) -> tuple[list[dict[str, Any]], str, datetime]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    times = [r["effectiveDateTime"] for r in resources if r["resourceType"] == "Observation"]
    # Synthea data ends around 2020-2021: "now" is a day after the patient's last observation.
    now = max(datetime.fromisoformat(t) for t in times).astimezone(UTC) + timedelta(days=1)
    return resources, patient["id"], now


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.split("_")[0] + "_" + p.name.split("_")[1])
def test_every_mapping_extracts_every_patient(path: Path, registry: MappingRegistry) -> None:
    resources, patient_id, now = _load(path)
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    for mapping in registry:
        prefetch = prefetch_from_resources(mapping, resources, strict=False)
        features = mapping.extract(prefetch, now=now, patient_id=patient_id)
        assert features.values.shape == (len(mapping.feature_names),)
        assert features.values.dtype == np.float32
        assert not np.isinf(features.values).any()
        as_json(features.as_dict())
        for name, provenance in features.provenance.items():
            # Synthea writes UCUM units and its own patient's references throughout.
            reasons = {exclusion.reason for exclusion in provenance.exclusions}
            assert ExclusionReason.UNKNOWN_UNIT not in reasons, (mapping.name, name)
            assert ExclusionReason.WRONG_PATIENT not in reasons, (mapping.name, name)
        if "age_years" in features.provenance:
            born = datetime.fromisoformat(patient["birthDate"])
            expected_age = now.year - born.year - ((now.month, now.day) < (born.month, born.day))
            assert features.value("age_years") == expected_age


def test_known_patients_have_the_expected_clinical_features(registry: MappingRegistry) -> None:
    by_name = {path.name.split("_")[0] + "_" + path.name.split("_")[1]: path for path in FILES}
    resources, patient_id, now = _load(by_name["Dirk_Kuhlman"])  # diabetes, hypertension on HCTZ
    ascvd = registry.get("ascvd_pce")
    features = ascvd.extract(
        prefetch_from_resources(ascvd, resources, strict=False), now=now, patient_id=patient_id
    )
    assert features.value("diabetes") == 1
    assert features.value("on_bp_treatment") == 1  # Synthea's 316049 "Hydrochlorothiazide 25 MG"
    assert features.value("sex_male") == 1
    assert not math.isnan(features.value("systolic_bp"))  # read from 55284-4 panel components
    contribution = features.provenance["systolic_bp"].contributions[0]
    assert contribution.component == "http://loinc.org|8480-6"

    resources, patient_id, now = _load(by_name["Clemente_Kreiger"])  # healthy adult
    features = ascvd.extract(
        prefetch_from_resources(ascvd, resources, strict=False), now=now, patient_id=patient_id
    )
    assert features.value("diabetes") == 0
    assert features.value("on_bp_treatment") == 0


def test_a_whole_transaction_bundle_under_one_key_is_read_too(registry: MappingRegistry) -> None:
    """Jobs may hand over a patient's $everything Bundle rather than per-type searches."""
    path = next(p for p in FILES if p.name.startswith("Dirk_Kuhlman"))
    bundle = json.loads(path.read_text(encoding="utf-8"))
    _, patient_id, now = _load(path)
    ascvd = registry.get("ascvd_pce")
    features = ascvd.extract({"everything": bundle}, now=now, patient_id=patient_id)
    assert features.value("diabetes") == 1
    assert features.value("on_bp_treatment") == 1
    assert features.value("age_years") > 0
