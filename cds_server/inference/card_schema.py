"""The JSON Schema (draft 2020-12) of ``model-card.yaml``, version 1.

The runtime validates every card against :data:`CARD_SCHEMA` itself, so a model repository works
without a copy of it; ``model_artifacts/schema/model-card.schema.json`` is the same document
exported for editors and external tooling (the build script writes it, a test keeps it equal).
"""

from __future__ import annotations

import json
from typing import Any

from cds_server.inference.hti1 import PREDICTIVE_DSI_ATTRIBUTES

SCHEMA_ID = "urn:cds-server:model-card:1"

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
_NUMBER: dict[str, Any] = {"type": "number"}
_NAME: dict[str, Any] = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
        **extra,
    }


def _texts(*names: str) -> dict[str, Any]:
    return dict.fromkeys(names, _TEXT)


_REFERENCE_DISTRIBUTION = {
    "description": (
        "The input's distribution in the reference population, the baseline for drift monitoring: quantiles "
        "(min, p10 ... p90, max) for measurements, the share of 1s for flags, or why none exists."
    ),
    "oneOf": [
        _object(
            {
                "n": {"type": "integer", "minimum": 1},
                "quantiles": {"type": "array", "items": _NUMBER, "minItems": 11, "maxItems": 11},
            }
        ),
        _object(
            {
                "n": {"type": "integer", "minimum": 1},
                "proportion": {"type": "number", "minimum": 0, "maximum": 1},
            }
        ),
        _object({"unavailable": _TEXT}),
    ],
}

_INPUT = _object(
    {
        "name": _NAME,
        "description": _TEXT,
        "unit": {"type": "string", "description": "UCUM code; '1' for dimensionless flags and codes"},
        "fhir": {**_TEXT, "description": "Where the value comes from in FHIR (codes, paths, derivation)"},
        "reference_distribution": _REFERENCE_DISTRIBUTION,
    },
    {
        "allowed_values": {"type": "array", "items": _NUMBER, "minItems": 1, "uniqueItems": True},
        "applicable_range": _object(
            {"min": {"type": ["number", "null"]}, "max": {"type": ["number", "null"]}, "reason": _TEXT},
            description="Inclusive limits; outside them the model gives no score, for this reason.",
        ),
    },
)

_OUTPUT = _object(
    {
        "name": _NAME,
        "description": _TEXT,
        "unit": {"type": "string"},
        "dtype": {"enum": ["float32", "float64"]},
        "range": {"type": "array", "items": _NUMBER, "minItems": 2, "maxItems": 2},
    }
)

_THRESHOLD = _object(
    {
        "output": _NAME,
        "operator": {"enum": [">=", ">", "<=", "<"]},
        "value": _NUMBER,
        "label": _TEXT,
        "meaning": _TEXT,
        "source": _TEXT,
    }
)

_SELF_TEST = _object(
    {
        "description": _TEXT,
        "source": _TEXT,
        "inputs": {"type": "object", "additionalProperties": _NUMBER, "minProperties": 1},
        "expected": {"type": "object", "additionalProperties": _NUMBER, "minProperties": 1},
        "tolerance": {"type": "number", "minimum": 0},
    }
)

_METRIC = _object(
    {
        "MetricGoal": _TEXT,
        "Results": {
            "type": "array",
            "items": _object({"Label": _TEXT, "ValueJson": {"type": "string"}}),
        },
        "Interpretation": _TEXT,
        "TestType": _TEXT,
        "TestingDataDescription": _TEXT,
        "ValidationProcessAndJustification": _TEXT,
    }
)

#: CHAI Applied Model Card v0.2 (coalition-for-health-ai/mc-schema), element names kept verbatim.
_CHAI = _object(
    {
        "BasicInfo": _object(_texts("ModelName", "ModelDeveloper", "DeveloperContact")),
        "ReleaseInfo": _object(
            _texts(
                "ReleaseStage", "ReleaseDate", "ReleaseVersion", "GlobalAvailability", "RegulatoryApproval"
            ),
            {"EHRCompatibility": _TEXT},
        ),
        "ModelSummary": _object({"Summary": _TEXT, "Keywords": {"type": "array", "items": _TEXT}}),
        "UsesAndDirections": _object(
            _texts("IntendedUseAndWorkflow", "PrimaryIntendedUsers", "HowToUse", "TargetedPatientPopulation")
        ),
        "Warnings": _object(
            _texts(
                "CautionedOutOfScopeSettings",
                "KnownRisksAndLimitations",
                "KnownBiasesOrEthicalConsiderations",
                "ClinicalRiskLevel",
            )
        ),
        "TrustIngredients": _object(
            {
                "AISystemFacts": _object(
                    _texts(
                        "OutcomesAndOutputs",
                        "ModelType",
                        "FoundationModels",
                        "InputDataSource",
                        "OutputAndInputDataTypes",
                        "DevelopmentDataCharacterization",
                        "BiasMitigationApproaches",
                        "OngoingMaintenance",
                        "Security",
                        "Transparency",
                    )
                ),
                "TransparencyInformation": _object(
                    _texts("FundingSource", "ThirdPartyInformation", "StakeholdersConsulted")
                ),
            }
        ),
        "KeyMetrics": _object(
            {"UsefulnessUsabilityEfficacy": _METRIC, "FairnessEquity": _METRIC, "SafetyReliability": _METRIC}
        ),
        "Resources": _object(
            _texts(
                "EvaluationReferences",
                "ClinicalTrial",
                "PeerReviewedPublications",
                "ReimbursementStatus",
                "PatientConsentOrDisclosure",
            )
        ),
        "Bibliography": _TEXT,
    }
)

_SOURCE_ATTRIBUTES = _object(
    {
        attribute.id: {
            **_TEXT,
            "title": attribute.title,
            "description": f"{attribute.citation} — {attribute.category}",
        }
        for attribute in PREDICTIVE_DSI_ATTRIBUTES
    },
    description=(
        "The 31 HTI-1 Predictive DSI source attributes, keyed (1.i ... 9.ii) as in 45 CFR "
        "170.315(b)(11)(iv)(B)."
    ),
)

CARD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "cds-server model card",
    "description": "model-card.yaml beside model.onnx; see model_artifacts/README.md.",
    **_object(
        {
            "card_schema": {"const": 1},
            "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$"},
            "version": {"type": "string", "pattern": "^[0-9A-Za-z][0-9A-Za-z.+-]*$"},
            "name": _TEXT,
            "summary": _TEXT,
            "release_date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
            "model_type": {"enum": ["equation", "score", "trained"]},
            "output_type": {
                "enum": ["prediction", "classification", "recommendation", "evaluation", "analysis", "other"]
            },
            "artifact": _object(
                {
                    "file": {"type": "string", "pattern": "^[A-Za-z0-9._-]+[.]onnx$"},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "size_bytes": {"type": "integer", "minimum": 1},
                    "ir_version": {"type": "integer", "minimum": 3},
                    "opsets": {
                        "type": "object",
                        "additionalProperties": {"type": "integer"},
                        "minProperties": 1,
                    },
                    "producer": _TEXT,
                    "converter": _object(_texts("name", "version")),
                    "libraries": {"type": "object", "additionalProperties": {"type": "string"}},
                    "build": {"type": "object"},
                }
            ),
            "input_tensor": _object(
                {
                    "name": _TEXT,
                    "dtype": {"enum": ["float32", "float64"]},
                    "shape": {
                        "type": "array",
                        "prefixItems": [{"type": "null"}, {"type": "integer", "minimum": 1}],
                        "minItems": 2,
                        "maxItems": 2,
                    },
                }
            ),
            "inputs": {"type": "array", "items": _INPUT, "minItems": 1},
            "outputs": {"type": "array", "items": _OUTPUT, "minItems": 1},
            "thresholds": {"type": "array", "items": _THRESHOLD},
            "self_test": {"type": "array", "items": _SELF_TEST, "minItems": 1},
            "reference_population": _object(
                _texts("source", "description", "method"),
                {
                    "n_rows": {"type": "integer", "minimum": 0},
                    "n_patients": {"type": "integer", "minimum": 0},
                },
            ),
            "performance": {"type": "object"},
            "monitoring": {"type": "object"},
            "references": {"type": "array", "items": _TEXT, "minItems": 1},
            "source_attributes": _SOURCE_ATTRIBUTES,
            "chai_model_card": _CHAI,
        }
    ),
}


def schema_json() -> str:
    """The schema as the text of ``model_artifacts/schema/model-card.schema.json``."""
    return json.dumps(CARD_SCHEMA, indent=2, ensure_ascii=False) + "\n"
