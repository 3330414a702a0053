"""The 31 HTI-1 Predictive DSI source attributes, 45 CFR 170.315(b)(11)(iv)(B).

Model cards keep their values under ``source_attributes``, keyed by the short ids below ("1.i" is
(b)(11)(iv)(B)(1)(i)). The labels are the short forms that certified vendors use in their public
disclosures (shared/reference/ml-serving-and-governance.md §B1.1), not the rule's full text. They
live here, once, so every card renders in the rule's order; the JSON Schema in
``model_artifacts/schema`` carries the same ids and a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

CITATION_PREFIX = "45 CFR 170.315(b)(11)(iv)(B)"

CATEGORIES: dict[str, str] = {
    "1": "Details and output of the intervention",
    "2": "Purpose of the intervention",
    "3": "Cautioned out-of-scope use of the intervention",
    "4": "Intervention development details and input features",
    "5": "Process used to ensure fairness in development of the intervention",
    "6": "External validation process",
    "7": "Quantitative measures of performance",
    "8": "Ongoing maintenance of intervention implementation and use",
    "9": "Update and continued validation or fairness assessment schedule",
}


@dataclass(frozen=True, slots=True)
class AttributeDefinition:
    id: str
    title: str

    @property
    def category(self) -> str:
        return CATEGORIES[self.id.split(".", 1)[0]]

    @property
    def citation(self) -> str:
        number, item = self.id.split(".", 1)
        return f"{CITATION_PREFIX}({number})({item})"


PREDICTIVE_DSI_ATTRIBUTES: tuple[AttributeDefinition, ...] = tuple(
    AttributeDefinition(id_, title)
    for id_, title in (
        ("1.i", "Name and contact information for the intervention developer"),
        ("1.ii", "Funding source of the intervention's technical implementation/development"),
        ("1.iii", "Description of value that the intervention produces as an output"),
        (
            "1.iv",
            "Whether the output is a prediction, classification, recommendation, evaluation, analysis, or "
            "other type",
        ),
        ("2.i", "Intended use of the intervention"),
        ("2.ii", "Intended patient population(s)"),
        ("2.iii", "Intended user(s)"),
        ("2.iv", "Intended decision-making role (e.g., informs, augments, replaces clinical management)"),
        (
            "3.i",
            "Tasks, situations, or populations where a user is cautioned against applying the intervention",
        ),
        ("3.ii", "Known risks, inappropriate settings, inappropriate uses, or known limitations"),
        ("4.i", "Exclusion and inclusion criteria that influenced the training data set"),
        ("4.ii", "Use of variables in (b)(11)(iv)(A)(5)-(13) as input features"),
        ("4.iii", "Demographic representativeness per (A)(5)-(13), at minimum those used as inputs"),
        ("4.iv", "Relevance of training data to intended deployed setting"),
        ("5.i", "Approach taken to ensure the output is fair"),
        ("5.ii", "Approaches to manage, reduce, or eliminate bias"),
        (
            "6.i",
            "Data source, clinical setting, or environment where validity and fairness were assessed, "
            "other than the training/testing source",
        ),
        ("6.ii", "Party that conducted the external testing"),
        ("6.iii", "Demographic representativeness of external data per (A)(5)-(13)"),
        ("6.iv", "Description of external validation process"),
        ("7.i", "Validity in test data from the same source as the training data"),
        ("7.ii", "Fairness in test data from the same source"),
        ("7.iii", "Validity in data external to / from a different source"),
        ("7.iv", "Fairness in data external to / from a different source"),
        (
            "7.v",
            "References to evaluation of use on outcomes (citations/links: morbidity, mortality, LOS, other)",
        ),
        ("8.i", "Process and frequency by which validity is monitored over time"),
        ("8.ii", "Validity of intervention in local data"),
        ("8.iii", "Process and frequency by which fairness is monitored over time"),
        ("8.iv", "Fairness of intervention in local data"),
        ("9.i", "Process and frequency by which the intervention is updated"),
        ("9.ii", "Frequency by which performance is corrected when validity/fairness risks are identified"),
    )
)

ATTRIBUTE_IDS: tuple[str, ...] = tuple(attribute.id for attribute in PREDICTIVE_DSI_ATTRIBUTES)
