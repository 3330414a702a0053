"""A compiled mapping and the registry of all mappings loaded at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cds_server.features.errors import UnknownMapping
from cds_server.features.extractor import extract
from cds_server.features.plan import MappingPlan
from cds_server.features.prefetch_templates import PrefetchTemplate
from cds_server.features.vector import FeatureVector


class CompiledMapping:
    """One ``fhir_mappings/<name>.yaml``, compiled: call :meth:`extract` per request."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        title: str,
        input_name: str,
        input_dtype: str,
        plan: MappingPlan,
        templates: Mapping[str, PrefetchTemplate],
        source: str,
    ) -> None:
        self.name = name
        self.version = version
        self.title = title
        self.input_name = input_name
        self.input_dtype = input_dtype
        self.source = source
        self.plan = plan
        #: Feature names in model-input order, indicator features included.
        self.feature_names: tuple[str, ...] = plan.vector_names
        #: Features computed with provenance but not fed to the model.
        self.auxiliary_names: tuple[str, ...] = plan.auxiliary_names
        #: Final CDS Hooks prefetch templates (tokens such as ``{{context.patientId}}`` left in).
        self.prefetch: dict[str, str] = {key: template.query for key, template in templates.items()}
        self.required_prefetch: frozenset[str] = frozenset(key for key, t in templates.items() if t.required)
        #: Hook context fields (e.g. ``draftOrders``) the pipeline should pass in like prefetch keys.
        self.context_keys: frozenset[str] = plan.context_keys
        self.templates: Mapping[str, PrefetchTemplate] = dict(templates)

    def extract(
        self, prefetch: Mapping[str, Any], *, now: datetime, patient_id: str | None = None
    ) -> FeatureVector:
        """Turn a prefetch (key -> resource, searchset Bundle or None) into the model's input.

        ``now`` is the reference time for windows and age; it must be timezone-aware. When
        ``patient_id`` is given, resources of any other patient are excluded (and recorded).
        """
        return extract(
            self.plan,
            mapping=self.name,
            version=self.version,
            template_keys=self.prefetch.keys(),
            prefetch=prefetch,
            now=now,
            patient_id=patient_id,
        )

    def __repr__(self) -> str:
        return f"<CompiledMapping {self.name} {self.version}: {len(self.feature_names)} inputs>"


class MappingRegistry:
    """All mappings loaded at start-up, by name."""

    def __init__(self, mappings: Mapping[str, CompiledMapping]) -> None:
        self._mappings = dict(mappings)

    def get(self, name: str) -> CompiledMapping:
        try:
            return self._mappings[name]
        except KeyError:
            raise UnknownMapping(name) from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._mappings))

    def __iter__(self) -> Iterator[CompiledMapping]:
        return iter(self._mappings[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._mappings)

    def __contains__(self, name: object) -> bool:
        return name in self._mappings
