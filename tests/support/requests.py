"""Building CDS Hooks request bodies for tests from the golden request files."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from tests.support.paths import DATA_DIR


def golden_request(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/data/hooks/<name>.json`` with a new hookInstance."""
    body: dict[str, Any] = json.loads((DATA_DIR / "hooks" / f"{name}.json").read_text())
    body["hookInstance"] = str(uuid.uuid4())
    return body


def patient_view(patient_id: str, *, prefetch: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/COREPRACTITIONER1", "patientId": patient_id},
    }
    if prefetch is not None:
        body["prefetch"] = copy.deepcopy(prefetch)
    body.update(fields)
    return body


def authorization(token: str, *, expires_in: int = 300) -> dict[str, Any]:
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": "user/*.read",
        "subject": "cds-server",
    }
