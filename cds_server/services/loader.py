"""Loading ``cds_services/*.yaml``: each declaration checked against its mapping and model card.

A declaration that names an unknown mapping or model, whose mapping does not produce exactly the
model's inputs in order, whose conditions do not compile, or whose suggested resource is not valid
FHIR R4 fails start-up with a message naming the file and the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from cds_server.features import MappingRegistry
from cds_server.features.fhirtime import parse_duration
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import HookHandler
from cds_server.hooks.service import PrefetchSpec
from cds_server.inference import ModelRegistry
from cds_server.services.async_service import AsyncJobs
from cds_server.services.async_service import AsyncServiceHandler
from cds_server.services.conditions import Condition
from cds_server.services.conditions import compile_condition
from cds_server.services.declaration import ServiceDeclaration
from cds_server.services.model_service import ModelServiceHandler
from cds_server.services.policy import CompiledPolicy
from cds_server.services.trend_card import allowed_placeholders


class ServiceDeclarationError(ValueError):
    """A service file is unusable; the message names the file and what is wrong."""


def load_service_declarations(
    directory: Path,
    *,
    mappings: MappingRegistry,
    models: ModelRegistry,
    public_base_url: str,
    jobs: AsyncJobs | None = None,
) -> list[CdsService]:
    """Every service declared under ``directory`` (one ``CdsService`` per declared hook).

    ``jobs`` is what asynchronous services (``async:``) start their jobs with; without it they load,
    and answer 503 when called.
    """
    services: list[CdsService] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        declaration = _read(path)
        if declaration.id in seen:
            raise ServiceDeclarationError(
                f"{path.name}: id {declaration.id!r} is also declared in {seen[declaration.id].name}"
            )
        seen[declaration.id] = path
        services.extend(
            build_services(
                declaration,
                path=path,
                mappings=mappings,
                models=models,
                public_base_url=public_base_url,
                jobs=jobs,
            )
        )
    return services


def _read(path: Path) -> ServiceDeclaration:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ServiceDeclaration.model_validate(document)
    except yaml.YAMLError as exc:
        raise ServiceDeclarationError(f"{path.name}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise ServiceDeclarationError(f"{path.name}: {problems}") from None


def build_services(
    declaration: ServiceDeclaration,
    *,
    path: Path,
    mappings: MappingRegistry,
    models: ModelRegistry,
    public_base_url: str,
    jobs: AsyncJobs | None = None,
) -> list[CdsService]:
    def fail(problem: str) -> ServiceDeclarationError:
        return ServiceDeclarationError(f"{path.name}: {problem}")

    if declaration.mapping not in mappings:
        raise fail(f"mapping {declaration.mapping!r} is not in fhir_mappings/")
    mapping = mappings.get(declaration.mapping)
    if declaration.model not in models.status():
        raise fail(f"model {declaration.model!r} is not in model_artifacts/")
    model = models.card(declaration.model)
    if tuple(mapping.feature_names) != model.input_names:
        raise fail(
            f"mapping {mapping.name!r} produces {list(mapping.feature_names)} but model {model.id!r} "
            f"takes {list(model.input_names)}"
        )
    card = declaration.card
    if card.output not in model.output_names:
        raise fail(f"card.output {card.output!r} is not an output of model {model.id!r}")
    known = set(mapping.feature_names) | set(mapping.auxiliary_names) | set(model.output_names)
    unknown_labels = set(declaration.labels) - known
    if unknown_labels:
        raise fail(f"labels name unknown features {sorted(unknown_labels)}")
    placeholders = {name for name, _ in re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\|(\w+))?\}", card.summary)}
    named = allowed_placeholders() if declaration.async_ is not None else {"value", "band", "title"}
    unknown_placeholders = placeholders - known - named
    if unknown_placeholders:
        raise fail(f"card.summary names unknown values {sorted(unknown_placeholders)}")
    show_when = _condition(card.when, known, fail, "card.when")
    what_if_when: list[Condition | None] = []
    for index, what_if in enumerate(card.whatIf):
        unknown = set(what_if.set) - set(mapping.feature_names)
        if unknown:
            raise fail(f"card.whatIf[{index}].set names inputs the model does not take: {sorted(unknown)}")
        what_if_when.append(_condition(what_if.when, known, fail, f"card.whatIf[{index}].when"))
    for index, suggestion in enumerate(card.suggestions):
        _check_fhir_resource(suggestion.action.resource, fail, f"card.suggestions[{index}].action.resource")
    unknown_optional = set(declaration.optionalPrefetch) - set(mapping.prefetch)
    if unknown_optional:
        raise fail(f"optionalPrefetch names keys the mapping does not have: {sorted(unknown_optional)}")

    policy = CompiledPolicy(
        declaration=declaration,
        model=model,
        show_when=show_when,
        what_if_when=tuple(what_if_when),
        model_page_url=f"{public_base_url}/models/{model.id}",
    )
    _check_async(declaration, fail)
    handler: HookHandler = (
        AsyncServiceHandler(policy, mapping, declaration.async_, jobs)
        if declaration.async_ is not None
        else ModelServiceHandler(policy, mapping, models)
    )
    prefetch = tuple(
        PrefetchSpec(key, template, required=key not in declaration.optionalPrefetch)
        for key, template in mapping.prefetch.items()
    )
    return [
        CdsService(
            id=declaration.id,
            hook=hook,
            title=declaration.title,
            description=declaration.description,
            handler=handler,
            prefetch=prefetch,
            usage_requirements=declaration.usageRequirements,
        )
        for hook in declaration.hooks
    ]


def _check_async(declaration: ServiceDeclaration, fail: Callable[[str], ServiceDeclarationError]) -> None:
    if declaration.async_ is None:
        return
    for name in ("freshFor", "lookBack"):
        try:
            parse_duration(getattr(declaration.async_, name))
        except ValueError:
            raise fail(f"async.{name} is not an ISO 8601 duration such as P1D or P10Y") from None


def _condition(
    text: str | None, known: Iterable[str], fail: Callable[[str], ServiceDeclarationError], where: str
) -> Condition | None:
    if text is None:
        return None
    try:
        return compile_condition(text, set(known))
    except ValueError as exc:
        raise fail(f"{where}: {exc}") from None


def _check_fhir_resource(
    resource: dict[str, object], fail: Callable[[str], ServiceDeclarationError], where: str
) -> None:
    from fhir.resources.R4B import get_fhir_model_class

    text = json.dumps(resource).replace("{{patientId}}", "example").replace("{{today}}", "2024-01-01")
    candidate = json.loads(text)
    try:
        get_fhir_model_class(str(candidate.get("resourceType"))).model_validate(candidate)
    except (KeyError, ValueError) as exc:
        raise fail(f"{where} is not a valid FHIR R4 resource ({type(exc).__name__})") from None
