"""Reading mapping specs from disk: the only module of the feature core that does I/O.

Layout of the mapping directory::

    <name>.yaml                          one spec per model (file name == spec id)
    schema/feature-spec.schema.json      JSON Schema every spec must satisfy
    units/synonyms.tsv                   reviewed non-UCUM unit strings -> UCUM
    valuesets/*.json                     pinned FHIR ValueSet expansions, by canonical url

Any problem stops start-up with a :class:`MappingSpecError` naming file, feature and problem.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from cds_server.features.codesets import Coding
from cds_server.features.codesets import codes_from_valueset
from cds_server.features.compiler import LoadContext
from cds_server.features.compiler import compile_mapping
from cds_server.features.errors import MappingSpecError
from cds_server.features.mapping import CompiledMapping
from cds_server.features.mapping import MappingRegistry
from cds_server.features.units import UnitConverter
from cds_server.features.units import parse_synonyms

SCHEMA_PATH = Path("schema") / "feature-spec.schema.json"
SYNONYMS_PATH = Path("units") / "synonyms.tsv"
VALUESETS_DIR = Path("valuesets")


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that keeps codes with a leading zero as strings.

    YAML 1.1 would read ``0123`` as the octal number 83, silently changing a code.
    """


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int | str:
    text = loader.construct_scalar(node)
    assert isinstance(text, str)
    digits = text.lstrip("+-")
    if len(digits) > 1 and digits.startswith("0"):
        return text
    return int(text.replace("_", ""))


_SpecLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_mappings(directory: Path) -> MappingRegistry:
    """Load, validate and compile every ``*.yaml`` spec in ``directory``."""
    directory = Path(directory)
    schema = _read_json(directory / SCHEMA_PATH)
    validator = jsonschema.Draft202012Validator(schema)
    context = LoadContext(
        valuesets=_load_valuesets(directory / VALUESETS_DIR),
        synonyms=_load_synonyms(directory / SYNONYMS_PATH),
        converter=UnitConverter(),
    )
    mappings: dict[str, CompiledMapping] = {}
    for path in sorted(directory.glob("*.yaml")):
        mapping = load_mapping_file(path, validator=validator, context=context)
        if mapping.name in mappings:
            raise MappingSpecError(
                path.name, f"id {mapping.name!r} is already used by {mappings[mapping.name].source}"
            )
        mappings[mapping.name] = mapping
    return MappingRegistry(mappings)


def load_mapping_file(
    path: Path, *, validator: jsonschema.protocols.Validator, context: LoadContext
) -> CompiledMapping:
    """Load one spec file against an already-built schema validator and load context."""
    file = path.name
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SpecLoader)  # noqa: S506  (a SafeLoader subclass)
    except (OSError, yaml.YAMLError) as exc:
        raise MappingSpecError(file, f"cannot read YAML: {exc}") from exc
    errors = sorted(validator.iter_errors(raw), key=lambda error: list(error.absolute_path))
    if errors:
        error = errors[0]
        raise MappingSpecError(file, _describe(error), feature=_feature_of(raw, error))
    if raw["id"] != path.stem:
        raise MappingSpecError(file, f"id {raw['id']!r} must match the file name {path.stem!r}")
    return compile_mapping(raw, file=file, context=context)


def _describe(error: jsonschema.ValidationError) -> str:
    location = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    best = jsonschema.exceptions.best_match([error, *error.context]) if error.context else error
    return f"{location}: {best.message}"


def _feature_of(raw: Any, error: jsonschema.ValidationError) -> str | None:
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "features" and isinstance(path[1], int):
        feature = raw["features"][path[1]]
        name = feature.get("name") if isinstance(feature, dict) else None
        return name if isinstance(name, str) else f"#{path[1] + 1}"
    return None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MappingSpecError(str(path), f"cannot read JSON: {exc}") from exc


def _load_valuesets(directory: Path) -> dict[str, frozenset[Coding]]:
    valuesets: dict[str, frozenset[Coding]] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        resource = _read_json(path)
        if (
            not isinstance(resource, dict)
            or resource.get("resourceType") != "ValueSet"
            or "url" not in resource
        ):
            raise MappingSpecError(f"valuesets/{path.name}", "not a FHIR ValueSet with a url")
        try:
            codes = codes_from_valueset(resource)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise MappingSpecError(f"valuesets/{path.name}", f"unusable expansion: {exc}") from exc
        if resource["url"] in valuesets:
            raise MappingSpecError(f"valuesets/{path.name}", f"ValueSet {resource['url']} is pinned twice")
        valuesets[resource["url"]] = codes
    return valuesets


def _load_synonyms(path: Path) -> dict[str, str]:
    file = f"units/{path.name}"
    try:
        synonyms = parse_synonyms(path.read_text(encoding="utf-8").splitlines())
    except OSError as exc:
        raise MappingSpecError(file, f"cannot read: {exc}") from exc
    except ValueError as exc:
        raise MappingSpecError(file, str(exc)) from exc
    converter = UnitConverter()
    for raw, ucum in synonyms.items():
        try:
            converter.validate(ucum)
        except ValueError as exc:
            raise MappingSpecError(file, f"{raw!r} maps to {exc}") from exc
    return synonyms
