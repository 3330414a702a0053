"""Errors raised while loading mappings or looking them up.

Extraction itself never raises on bad FHIR data: it records what it could not use in the
provenance instead. These exceptions are for start-up (a bad spec) and for programming errors
(asking for a mapping that does not exist).
"""

from __future__ import annotations


class MappingSpecError(Exception):
    """A mapping file is invalid. The message names the file, the feature (if any) and the problem."""

    def __init__(self, file: str, problem: str, *, feature: str | None = None) -> None:
        self.file = file
        self.feature = feature
        self.problem = problem
        where = f"{file}: feature '{feature}'" if feature else file
        super().__init__(f"{where}: {problem}")


class UnknownMapping(KeyError):
    """No mapping with this name was loaded."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)

    def __str__(self) -> str:
        return f"no feature mapping named {self.name!r} is loaded"
