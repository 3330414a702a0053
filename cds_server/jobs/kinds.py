"""Job kinds: what a job of each kind checks at submission and what its units do.

A kind is a name, a pydantic model of its parameters (checked at ``POST /jobs``; the parameters are
stored as the job's ``params``), and one function that runs any unit of it. Built-in kinds are
registered by :func:`cds_server.jobs.builtin.builtin_kinds`; modules named in ``CDS_JOB_MODULES``
add more with ``register_jobs(kinds)`` (the test suite adds jobs that crash or sleep on purpose).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from pydantic import BaseModel
from pydantic import ValidationError

from cds_server.errors import InvalidJobRequest
from cds_server.features import MappingRegistry
from cds_server.fhir.backends import BackendRegistry
from cds_server.inference import ModelRegistry
from cds_server.jobs.claims import Finish
from cds_server.jobs.records import Owner

if TYPE_CHECKING:
    from cds_server.jobs.context import JobContext


@dataclass(frozen=True)
class SubmitContext:
    """What a kind's submission check may consult: who submits, and this server's parts."""

    owner: Owner
    backends: BackendRegistry
    models: ModelRegistry
    mappings: MappingRegistry


@dataclass(frozen=True)
class JobKind:
    name: str
    params: type[BaseModel]
    run: Callable[[JobContext], Finish]
    description: str = ""
    #: may clients start it with ``POST /jobs`` (False: only a service starts it)
    submittable: bool = True
    #: called at submission with the validated parameters and the app's parts; raises InvalidJobRequest
    check: Callable[[BaseModel, SubmitContext], None] | None = field(default=None)


class JobKinds:
    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(self, kind: JobKind) -> None:
        if kind.name in self._kinds:
            raise ValueError(f"job kind {kind.name!r} is registered twice")
        self._kinds[kind.name] = kind

    def find(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def __iter__(self) -> Iterator[JobKind]:
        return iter(self._kinds.values())

    def validate(self, name: object, params: object) -> tuple[JobKind, BaseModel]:
        """The kind and its parsed parameters.

        :raise InvalidJobRequest: unknown or non-submittable kind, or parameters that do not fit (the
            issues name the field and the rule, never the value).
        """
        kind = self._kinds.get(name) if isinstance(name, str) else None
        if kind is None or not kind.submittable:
            known = ", ".join(sorted(k.name for k in self._kinds.values() if k.submittable))
            raise InvalidJobRequest(f"Unknown job kind; this server runs: {known}.")
        try:
            parsed = kind.params.model_validate(params if params is not None else {})
        except ValidationError as exc:
            issues = [
                f"params.{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                for error in exc.errors(include_input=False, include_url=False, include_context=False)
            ]
            raise InvalidJobRequest(issues=issues) from None
        return kind, parsed
