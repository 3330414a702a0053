"""news2: the National Early Warning Score 2 as an ONNX graph of comparisons.

Source: Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the
assessment of acute-illness severity in the NHS. Updated report of a working party. London: RCP,
2017 - the NEWS2 chart (shared/reference/ml-serving-and-governance.md §B4.4).

Each parameter's chart row becomes (upper bounds, scores): the band is the number of upper bounds
the value exceeds, and the score is looked up by band. So "≤8 → 3, 9-11 → 1, 12-20 → 0,
21-24 → 2, ≥25 → 3" is bounds (8, 11, 20, 24) and scores (3, 1, 0, 2, 3). A value between two
chart rows (a respiratory rate of 8.5, a temperature of 36.05) falls in the upper row.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from cds_server.inference.reference import common
from cds_server.inference.reference.news2_text import BIBTEX
from cds_server.inference.reference.news2_text import KEY_METRICS
from cds_server.inference.reference.news2_text import NARRATIVE
from cds_server.inference.reference.news2_text import REFERENCES
from cds_server.inference.reference.onnx_graph import FLOAT
from cds_server.inference.reference.onnx_graph import GraphBuilder
from cds_server.inference.reference.onnx_graph import serialize
from cds_server.inference.reference.spec import InputDefinition
from cds_server.inference.reference.spec import OutputDefinition
from cds_server.inference.reference.spec import ReferenceModel
from cds_server.inference.reference.spec import ReferencePopulation
from cds_server.inference.reference.spec import SelfTestDefinition
from cds_server.inference.reference.spec import ThresholdDefinition

MODEL_ID = "news2"
VERSION = "1.0.0"

#: Chart rows as (upper bounds of each band, score of each band); the last band is open above.
RESPIRATORY_RATE = ((8, 11, 20, 24), (3, 1, 0, 2, 3))
SPO2_SCALE_1 = ((91, 93, 95), (3, 2, 1, 0))
#: Scale 2 on air: 88-92 and >= 93 both score 0.
SPO2_SCALE_2_AIR = ((83, 85, 87), (3, 2, 1, 0))
SPO2_SCALE_2_OXYGEN = ((83, 85, 87, 92, 94, 96), (3, 2, 1, 0, 1, 2, 3))
SYSTOLIC_BP = ((90, 100, 110, 219), (3, 2, 1, 0, 3))
HEART_RATE = ((40, 50, 90, 110, 130), (3, 1, 0, 1, 2, 3))
TEMPERATURE = ((35.0, 36.0, 38.0, 39.0), (3, 1, 0, 1, 2))
SUPPLEMENTAL_OXYGEN_SCORE = 2
NOT_ALERT_SCORE = 3

_BINARY = (0.0, 1.0)
_PLAUSIBILITY = (
    "outside physiologically plausible values (a cds-server data-quality limit, not part of the RCP chart): "
    "most likely a unit or entry error"
)
INPUTS = (
    InputDefinition(
        "respiratory_rate",
        "Respiration rate.",
        "/min",
        "Observation LOINC 9279-1, most recent",
        applicable_range=(0, 80, _PLAUSIBILITY),
    ),
    InputDefinition(
        "spo2",
        "Oxygen saturation by pulse oximetry.",
        "%",
        "Observation LOINC 59408-5 (or 2708-6), most recent",
        applicable_range=(0, 100, _PLAUSIBILITY),
    ),
    InputDefinition(
        "on_supplemental_oxygen",
        "1 = receiving supplemental oxygen, 0 = breathing room air.",
        "1",
        "oxygen-delivery Observation (e.g. LOINC 3150-0 inhaled oxygen concentration above 21%, 3151-8 "
        "flow) -> 1; SNOMED CT 722742002 breathing room air -> 0",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "temperature",
        "Body temperature.",
        "Cel",
        "Observation LOINC 8310-5 (°F converted to °C), most recent",
        applicable_range=(25, 45, _PLAUSIBILITY),
    ),
    InputDefinition(
        "systolic_bp",
        "Systolic blood pressure.",
        "mm[Hg]",
        "Observation LOINC 8480-6 (also as a BP panel component), most recent",
        applicable_range=(20, 300, _PLAUSIBILITY),
    ),
    InputDefinition(
        "heart_rate",
        "Pulse rate.",
        "/min",
        "Observation LOINC 8867-4, most recent",
        applicable_range=(10, 300, _PLAUSIBILITY),
    ),
    InputDefinition(
        "consciousness_alert",
        "1 = Alert; 0 = new confusion, or responds only to Voice or Pain, or Unresponsive (ACVPU).",
        "1",
        "Observation LOINC 67775-7 (AVPU) or a new-confusion assessment; Alert -> 1, anything else -> 0",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "spo2_scale2",
        "1 = score SpO2 on Scale 2 (target 88-92%, for confirmed hypercapnic respiratory failure, on a "
        "clinician's documented decision), 0 = Scale 1.",
        "1",
        "a documented clinical decision (no standard code): site-specific flag; default 0",
        allowed_values=_BINARY,
    ),
)
OUTPUTS = (
    OutputDefinition(
        "news2_score",
        "NEWS2 aggregate score (sum of the seven parameter scores).",
        "{score}",
        "float32",
        (0.0, 20.0),
    ),
    OutputDefinition(
        "any_parameter_3",
        "1 if any single parameter scores 3 (a 'red score'), else 0.",
        "1",
        "float32",
        (0.0, 1.0),
    ),
)

_RCP = "Royal College of Physicians, NEWS2 report (2017), clinical response chart"
THRESHOLDS = (
    ThresholdDefinition(
        "any_parameter_3",
        ">=",
        1,
        "low-medium",
        "A single parameter scoring 3: urgent ward-based response.",
        _RCP,
    ),
    ThresholdDefinition(
        "news2_score", ">=", 5, "medium", "Aggregate 5-6: key threshold for an urgent response.", _RCP
    ),
    ThresholdDefinition("news2_score", ">=", 7, "high", "Aggregate 7 or more: emergency response.", _RCP),
)


def observation(**changes: float) -> dict[str, float]:
    """A set of vital signs that scores 0 on every parameter, with ``changes`` applied."""
    values = {
        "respiratory_rate": 16.0,
        "spo2": 97.0,
        "on_supplemental_oxygen": 0.0,
        "temperature": 37.0,
        "systolic_bp": 120.0,
        "heart_rate": 70.0,
        "consciousness_alert": 1.0,
        "spo2_scale2": 0.0,
    }
    values.update(changes)
    return values


#: §B4.4: the emergency-department IG example scores the temperature 1 and totals 6; by the chart
#: 37.5 °C scores 0 and the total is 5.
IG_EXAMPLE = observation(respiratory_rate=21, heart_rate=95, spo2=93, temperature=37.5, systolic_bp=120)

SELF_TESTS = (
    SelfTestDefinition(
        "all parameters normal",
        "RCP NEWS2 chart",
        observation(),
        {"news2_score": 0, "any_parameter_3": 0},
        0.0,
    ),
    SelfTestDefinition(
        "RR 21, HR 95, SpO2 93% scale 1 on air, 37.5 °C, SBP 120, alert (correct total 5, not the IG's 6)",
        "SynaneticsLtd/emergency-department-ig caroltest example, re-scored with the RCP chart (§B4.4)",
        IG_EXAMPLE,
        {"news2_score": 5, "any_parameter_3": 0},
        0.0,
    ),
    SelfTestDefinition(
        "RR 25, SpO2 91% on oxygen, 39.1 °C, SBP 90, HR 131, not alert",
        "RCP NEWS2 chart (every parameter in its top band)",
        observation(
            respiratory_rate=25,
            spo2=91,
            on_supplemental_oxygen=1,
            temperature=39.1,
            systolic_bp=90,
            heart_rate=131,
            consciousness_alert=0,
        ),
        {"news2_score": 3 + 3 + 2 + 2 + 3 + 3 + 3, "any_parameter_3": 1},
        0.0,
    ),
)


def build_graph() -> bytes:
    graph = GraphBuilder(width=len(INPUTS), compute_type=FLOAT)
    rr, spo2, oxygen, temperature, sbp, heart_rate, alert, scale2 = graph.rows(
        graph.feature_rows, [spec.name for spec in INPUTS]
    )
    axis = graph.const([0], dtype=TensorProto.INT64, hint="axis")

    def chart_row(value: str, row: tuple[tuple[float, ...], tuple[int, ...]], hint: str) -> str:
        upper_bounds, scores = row
        # (1, batch) against (bounds, 1): one row of comparisons per upper bound.
        exceeded = graph.op("Greater", value, graph.const(np.array(upper_bounds)[:, None]))
        band = graph.op(
            "ReduceSum",
            graph.op("Cast", exceeded, to=TensorProto.INT64),
            axis,
            keepdims=1,
            hint=f"{hint}_band",
        )
        return graph.op("Gather", graph.const(scores), band, axis=0, hint=f"{hint}_score")

    on_oxygen = graph.flag(oxygen)
    scale2_score = graph.op(
        "Where",
        on_oxygen,
        chart_row(spo2, SPO2_SCALE_2_OXYGEN, "spo2_s2_oxygen"),
        chart_row(spo2, SPO2_SCALE_2_AIR, "spo2_s2_air"),
    )
    parameter_scores = [
        chart_row(rr, RESPIRATORY_RATE, "respiratory_rate"),
        graph.op(
            "Where",
            graph.flag(scale2),
            scale2_score,
            chart_row(spo2, SPO2_SCALE_1, "spo2_s1"),
            hint="spo2_score",
        ),
        graph.op(
            "Where",
            on_oxygen,
            graph.const(float(SUPPLEMENTAL_OXYGEN_SCORE)),
            graph.const(0.0),
            hint="oxygen_score",
        ),
        chart_row(sbp, SYSTOLIC_BP, "systolic_bp"),
        chart_row(heart_rate, HEART_RATE, "heart_rate"),
        graph.op(
            "Where",
            graph.flag(alert),
            graph.const(0.0),
            graph.const(float(NOT_ALERT_SCORE)),
            hint="consciousness_score",
        ),
        chart_row(temperature, TEMPERATURE, "temperature"),
    ]
    scores = graph.stack(parameter_scores, hint="parameter_scores")
    total = graph.op("ReduceSum", scores, axis, keepdims=1, hint="total")
    highest = graph.op("ReduceMax", scores, keepdims=1, axes=[0], hint="highest")
    any_three = graph.op(
        "Cast", graph.op("GreaterOrEqual", highest, graph.const(3.0)), to=FLOAT, hint="any_three"
    )
    graph.output(graph.poisoned_by_non_finite_input(total), "news2_score")
    graph.output(graph.poisoned_by_non_finite_input(any_three), "any_parameter_3")
    model = graph.build(
        graph_name="news2",
        doc="National Early Warning Score 2 (Royal College of Physicians, 2017).",
        metadata={
            "model_id": MODEL_ID,
            "version": VERSION,
            "source": "Royal College of Physicians, NEWS2, 2017",
        },
    )
    return serialize(model)


_NO_REFERENCE = (
    "No bundled data set holds acute-care vital signs: the Synthea sample has no respiratory rate, SpO2, "
    "heart rate or consciousness observations and only 9 temperatures. Establish the baseline from the "
    "first 30 days of local shadow-mode operation."
)


def reference_model() -> ReferenceModel:
    return ReferenceModel(
        id=MODEL_ID,
        version=VERSION,
        name="National Early Warning Score 2 (NEWS2)",
        summary=(
            "Aggregates seven routine vital-sign parameters into the Royal College of Physicians' NEWS2 "
            "early-warning score (0-20) to detect acute clinical deterioration in adults."
        ),
        release_date=common.RELEASE_DATE,
        model_type="score",
        output_type="evaluation",
        keywords=("early warning score", "deterioration", "vital signs", "NEWS2", "sepsis"),
        inputs=INPUTS,
        outputs=OUTPUTS,
        thresholds=THRESHOLDS,
        self_tests=SELF_TESTS,
        model_bytes=build_graph(),
        converter=common.onnx_helper_converter(),
        libraries=common.library_versions(),
        build=common.equation_build_info(__name__),
        population=ReferencePopulation(
            source="none available",
            description="No reference population: see each input's reference_distribution.",
            method="Not applicable.",
            n_rows=0,
            n_patients=0,
            distributions={spec.name: {"unavailable": _NO_REFERENCE} for spec in INPUTS},
        ),
        performance={
            "verification": (
                "The ONNX graph reproduces every boundary of every chart row (both sides), SpO2 scales 1 "
                "and 2 (including >= 93% on air scoring 0 on scale 2) and the corrected IG example (total "
                "5) in tests/unit/models."
            ),
            "published_validation": "See source attributes 7.i-7.iv; not re-estimated by this project.",
        },
        narrative=NARRATIVE,
        key_metrics=KEY_METRICS,
        references=REFERENCES,
        bibtex=BIBTEX,
    )
