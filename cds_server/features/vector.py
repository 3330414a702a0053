"""The result of one extraction: the model's input vector plus everything needed to explain it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from cds_server.features.provenance import FeatureProvenance


@dataclass(frozen=True, slots=True)
class FeatureVector:
    """Feature values in model-input order, auxiliary values, and per-feature provenance.

    ``missing`` lists every feature (vector or auxiliary) the data gave no value for, whether or
    not a value was then imputed; ``imputed`` lists those that received an imputed value.
    """

    mapping: str
    mapping_version: str
    names: tuple[str, ...]
    values: npt.NDArray[np.float32]
    auxiliary: Mapping[str, float]
    provenance: Mapping[str, FeatureProvenance]
    missing: tuple[str, ...]
    imputed: tuple[str, ...]
    reference_time: datetime
    patient_id: str | None
    inputs: Mapping[str, str]
    notes: tuple[str, ...]

    def value(self, name: str) -> float:
        """The value of any feature, vector or auxiliary, by name (KeyError if unknown)."""
        return self.provenance[name].value

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form for cards and audit (NaN becomes null)."""
        return {
            "mapping": self.mapping,
            "version": self.mapping_version,
            "referenceTime": self.reference_time.isoformat(),
            "patientId": self.patient_id,
            "names": list(self.names),
            "values": [_json_number(float(v)) for v in self.values],
            "auxiliary": {name: _json_number(v) for name, v in self.auxiliary.items()},
            "missing": list(self.missing),
            "imputed": list(self.imputed),
            "inputs": dict(self.inputs),
            "notes": list(self.notes),
            "features": {name: prov.as_dict() for name, prov in self.provenance.items()},
        }


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value
