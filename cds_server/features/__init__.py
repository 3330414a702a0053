"""FHIR -> feature vectors, from declarative ``fhir_mappings/<name>.yaml`` specs.

A pure core: no Flask, HTTP, database or model runtime here, and no I/O except reading the specs
at start-up (:mod:`cds_server.features.loader`). See ``docs/mapping-spec.md`` for the format.

Typical use::

    registry = load_mappings(Path("fhir_mappings"))          # once per process
    mapping = registry.get("ascvd_pce")
    features = mapping.extract(prefetch, now=received_at, patient_id=context["patientId"])
    session.run(None, {mapping.input_name: features.values[None, :]})
"""

from cds_server.features.errors import MappingSpecError
from cds_server.features.errors import UnknownMapping
from cds_server.features.loader import load_mappings
from cds_server.features.mapping import CompiledMapping
from cds_server.features.mapping import MappingRegistry
from cds_server.features.provenance import Contribution
from cds_server.features.provenance import Exclusion
from cds_server.features.provenance import ExclusionReason
from cds_server.features.provenance import FeatureProvenance
from cds_server.features.provenance import FeatureStatus
from cds_server.features.vector import FeatureVector

__all__ = [
    "CompiledMapping",
    "Contribution",
    "Exclusion",
    "ExclusionReason",
    "FeatureProvenance",
    "FeatureStatus",
    "FeatureVector",
    "MappingRegistry",
    "MappingSpecError",
    "UnknownMapping",
    "load_mappings",
]
