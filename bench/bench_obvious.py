"""The same hook handled "the obvious way", for comparison with the compiled pipeline.

The obvious way is what most FHIR-in-Python code does: parse with the standard library, validate
every resource of the prefetch with fhir.resources (R4B), then read each model input with FHIRPath
(fhirpathpy) over the validated data, run the same ONNX model and build the same card. It gives the
same ASCVD risk for the reference request (checked below), so the ratio compares equal work.

    .venv/bin/python bench/bench_obvious.py [--repeat 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import yaml
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from fhirpathpy import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.requests import REFERENCE_TIME
from bench.requests import body_bytes
from bench.requests import patient_view
from bench.stats import median_p99
from cds_server import create_app
from cds_server.features.codesets import compile_code_set
from cds_server.features.loader import _load_valuesets
from cds_server.state import get_state

KEYS = ("patient", "observations", "conditions", "medications")
REPO = Path(__file__).resolve().parents[1]
RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
LOINC = "http://loinc.org"


def _code_sets(names: tuple[str, ...]) -> dict[str, list[str]]:
    """The same code lists the mapping uses (the obvious way hard-codes its lists; these are the same)."""
    folder = REPO / "fhir_mappings"
    raw = yaml.safe_load((folder / "ascvd_pce.yaml").read_text())["codeSets"]
    valuesets = _load_valuesets(folder / "valuesets")
    out: dict[str, list[str]] = {}
    for name in names:
        compiled = compile_code_set(name, raw[name], valuesets)
        # the diabetes set also has ICD-10 prefixes; the Synthea charts are coded in SNOMED
        out[name] = sorted(code for _, code in compiled.codes)
    return out


def obvious_features(body: bytes, now: datetime, code_sets: dict[str, list[str]]) -> list[float]:
    request = json.loads(body)
    prefetch = request["prefetch"]
    # 1. validate everything
    patient = Patient.model_validate(prefetch["patient"]).model_dump(mode="json", exclude_none=True)
    bundles = {
        key: Bundle.model_validate(prefetch[key]).model_dump(mode="json", exclude_none=True)
        for key in ("observations", "conditions", "medications")
    }
    # 2. read each input with FHIRPath
    birth = date.fromisoformat(evaluate(patient, "Patient.birthDate")[0])
    today = now.date()
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    male = 1.0 if evaluate(patient, "Patient.gender")[0] == "male" else 0.0
    race = evaluate(
        patient, f"Patient.extension.where(url='{RACE}').extension.where(url='ombCategory').value.code"
    )
    black = 1.0 if "2054-5" in race else 0.0
    observations = bundles["observations"]

    def latest(path_codes: list[str], value_path: str, window_days: int) -> float:
        codes = " | ".join(f"'{code}'" for code in path_codes)
        matches = evaluate(
            observations,
            f"Bundle.entry.resource.where(status='final' and code.coding.where(system='{LOINC}' and code in ({codes})).exists())",
        )
        best: tuple[str, float] | None = None
        for observation in matches:
            value = evaluate(observation, value_path)
            when = evaluate(observation, "effectiveDateTime")
            if not (value and when):
                continue
            at = datetime.fromisoformat(str(when[0]))
            # the same rules as the mapping: nothing after "now", nothing older than the window
            if at > now or (now - at).days > window_days:
                continue
            if best is None or at.isoformat() > best[0]:
                best = (at.isoformat(), float(value[0]))
        return best[1] if best else float("nan")

    total_cholesterol = latest(["2093-3"], "valueQuantity.value", 5 * 365)
    hdl = latest(["2085-9"], "valueQuantity.value", 5 * 365)
    systolic_path = "component.where(code.coding.code='8480-6').valueQuantity.value"
    systolic = latest(["55284-4", "85354-9"], systolic_path, 365)
    smoking = evaluate(
        observations,
        "Bundle.entry.resource.where(code.coding.code='72166-2').valueCodeableConcept.coding.code",
    )
    smoker = 1.0 if smoking and smoking[-1] in code_sets["current_smoker"] else 0.0
    medications = evaluate(
        bundles["medications"],
        "Bundle.entry.resource.where(status='active').medicationCodeableConcept.coding.code",
    )
    treated = 1.0 if any(code in code_sets["antihypertensives"] for code in medications) else 0.0
    conditions = evaluate(
        bundles["conditions"],
        "Bundle.entry.resource.where(clinicalStatus.coding.code='active').code.coding.code",
    )
    diabetes = 1.0 if any(code in code_sets["diabetes"] for code in conditions) else 0.0
    return [float(age), male, black, total_cholesterol, hdl, systolic, treated, smoker, diabetes]


def run(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "reference_time": REFERENCE_TIME,
                "database_url": f"sqlite:///{folder}/obvious.db",
                "log_level": "WARNING",
                "dev_client": False,
            }
        )
        state = get_state(app)
        mapping = state.mappings.get("ascvd_pce")
        code_sets = _code_sets(("current_smoker", "antihypertensives", "diabetes"))
        now = datetime.fromisoformat(REFERENCE_TIME)
        body = body_bytes(patient_view(keys=KEYS))
        samples = []
        features: list[float] = []
        for _ in range(repeat):
            start = time.perf_counter()
            features = obvious_features(body, now, code_sets)
            prediction = state.models.predict("ascvd-pce", np.array(features, dtype=np.float32))
            samples.append((time.perf_counter() - start) * 1000)
        # the compiled pipeline on the same request, for the same number
        ours = mapping.extract(
            orjson.loads(body)["prefetch"], now=now, patient_id=orjson.loads(body)["context"]["patientId"]
        )
        compiled = state.models.predict("ascvd-pce", ours.values)
        state.close()
    return {
        "bytes": len(body),
        "repeat": repeat,
        **median_p99(samples),
        "risk_obvious": prediction.outputs["risk_10y"],
        "risk_compiled": compiled.outputs["risk_10y"],
        "features_obvious": features,
        "features_compiled": [float(v) for v in ours.values],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.repeat)
    print(
        f"Obvious way (fhir.resources validation + fhirpathpy), {report['bytes']} bytes: "
        f"median {report['median_ms']:.1f} ms, p99 {report['p99_ms']:.1f} ms; "
        f"risk {report['risk_obvious']:.4f} vs compiled {report['risk_compiled']:.4f}"
    )
    if args.json:
        args.json.write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
