"""Override reasons offered on cards: the CDS Hooks 3.0 non-adherence reason codes (STU).

Codes and displays are those of ``http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes``
(HL7/cds-hooks ``input/vocabulary/CodeSystem-non-adherence-reason-codes.json``); every one carries its
display, as cds-resp-4 requires. The selection is the clinical value set's categories that fit a
risk-estimate card, so a clinician dismissing a card can say why in a handful of clicks.
"""

from __future__ import annotations

from cds_server.hooks.cards import Coding

NON_ADHERENCE_REASONS = "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"

_RISK_CARD_REASONS = (
    ("cds-not-applicable", "PC CDS does not apply to patient"),
    ("action-completed", "Recommended action was already completed"),
    ("patient-contraindication", "Patient has contraindication to recommended action"),
    (
        "recipient-disagrees-evidence",
        "Recipient disagrees with recommendation because of issues with the evidence",
    ),
    ("does-not-align-preferences", "Recommendation does not align with patient preferences or values"),
    ("cds-suboptimal-context", "PC CDS delivered in suboptimal context"),
)

RISK_CARD_OVERRIDE_REASONS: tuple[Coding, ...] = tuple(
    Coding(system=NON_ADHERENCE_REASONS, code=code, display=display) for code, display in _RISK_CARD_REASONS
)
