"""Governance text shared by the four reference model cards.

Each model module supplies its own narrative (keyed by HTI-1 attribute id, plus a few CHAI-only
keys); anything it leaves out comes from :data:`SHARED_NARRATIVE`. Statements here are about the
cds-server *implementation* and its operation; statements about the underlying published
equations live in the model modules, with their sources.
"""

from __future__ import annotations

DEVELOPER = "cds-server open-source project (reference implementation maintainers)"
CONTACT = (
    "Open an issue in the cds-server source repository (see its README). A site that deploys this model "
    "must add its own local contact for clinical questions to its deployment records."
)

SHARED_NARRATIVE: dict[str, str] = {
    "1.i": f"{DEVELOPER}. {CONTACT}",
    "1.ii": (
        "No external funding: built and maintained by volunteers of the cds-server project. The underlying "
        "published model has its own funding, stated in its primary publication."
    ),
    "5.i": (
        "The implementation reproduces the published model exactly (pinned test vectors run through the "
        "ONNX file in CI); it adds no re-weighting or re-calibration of its own, so its fairness is that of "
        "the published model, described in attributes 4.ii-4.iii and 7.ii. Scores are withheld outside the "
        "validated input ranges (applicability limits in the card), which stops the model extrapolating to "
        "people it was never derived for."
    ),
    "6.ii": (
        "The cds-server project has not conducted external testing. External validations cited in attribute "
        "6.i were conducted by their authors."
    ),
    "8.i": (
        "Continuous, by the deploying site with cds-server's monitoring: every scored request is audited "
        "with model id, version and sha256. Input drift is measured weekly as the population stability "
        "index (PSI) of each input against the reference deciles in this card (warn at 0.10, act at 0.25, "
        "over at least 200 scored requests); the score distribution and the share of requests refused for "
        "applicability are tracked the same way. Where outcomes become available (label lag of 10 years for "
        "risk equations makes this rare), calibration-in-the-large and discrimination are re-estimated "
        "yearly."
    ),
    "8.ii": (
        "Not yet measured: no local validation data exist for this reference deployment. Each deploying "
        "site must run the model in shadow (silent) mode on local data and record local validity here "
        "before use in care."
    ),
    "8.iii": (
        "As 8.i, stratified by sex, age band, race and ethnicity (where recorded in the EHR), and preferred "
        "language: drift, refusal rate and score distribution per subgroup weekly; subgroup calibration "
        "yearly where outcomes are available. Card feedback (CDS Hooks accept/override with reasons) is "
        "analysed per subgroup monthly."
    ),
    "8.iv": (
        "Not yet measured: no local data. Each deploying site must report subgroup results from its "
        "shadow-mode evaluation here before use in care."
    ),
    "9.i": (
        "The artifact changes only through a new version directory built by "
        "scripts/build_reference_models.py, reviewed, tested against the pinned published vectors, deployed "
        "first in shadow, then promoted via deployment.yaml. The equations are reviewed against their "
        "primary sources at least yearly and whenever the guideline bodies publish an update."
    ),
    "9.ii": (
        "A validity or fairness defect in the implementation (any deviation from the published vectors) is "
        "corrected in the next release and the affected version is withdrawn from deployment at once. "
        "Miscalibration of the published model in a local population is addressed by the deploying site "
        "(recalibration as a new model version, or withdrawal) within one quarter of detection."
    ),
    # CHAI-only fields
    "release_stage": (
        "Reference implementation (pre-deployment); requires local validation before clinical use."
    ),
    "global_availability": (
        "Open source; usable anywhere the source licence allows. Designed for US clinical settings."
    ),
    "ehr_compatibility": (
        "Any EHR that calls CDS Hooks 2.0 services (Epic, Oracle Health, the CDS Hooks Sandbox)."
    ),
    "regulatory_approval": (
        "None. Intended to operate as non-device clinical decision support under FD&C Act 520(o)(1)(E): it "
        "does not process images or signals, it displays patient information, it supports (does not "
        "replace) a clinician, and each card shows the inputs, their values and the model's basis so the "
        "clinician can review it independently. Each deploying organisation must confirm this for its own "
        "use."
    ),
    "foundation_models": "None.",
    "security": (
        "The artifact is pinned by sha256 in this card and verified at every load; a mismatch keeps the "
        "model out of service. Inputs and outputs stay inside the server process (onnxruntime in-process); "
        "no patient data leave the deployment."
    ),
    "transparency": (
        "Full: the ONNX graph, the script that builds it, the coefficients with their sources, and the "
        "tests that pin published vectors are public in the cds-server repository."
    ),
    "third_party": "None beyond the open-source libraries listed under artifact.libraries.",
    "stakeholders": (
        "cds-server maintainers. No patient or clinician panel was consulted for this reference release."
    ),
    "reimbursement": "Not applicable.",
    "patient_consent": (
        "No specific consent beyond the deploying site's usual notice: the model runs on data already in "
        "the record, for the care of the patient."
    ),
    "clinical_trial": "None.",
}
