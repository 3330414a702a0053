"""The FHIR servers jobs read and write, with the server's own credentials (``CDS_FHIR_BACKENDS_FILE``).

Backends are configuration, never request input: a job names a backend by its id, and an
asynchronous service uses the backend whose ``baseUrl`` is the hook's ``fhirServer``. A hook's
``fhirAuthorization`` token is never kept for a job; jobs authenticate as themselves (SMART Backend
Services: ``client_credentials`` with a ``private_key_jwt`` assertion) or, for an open server
declared ``auth: {type: none}``, without a token. Example::

    servers:
      ehr:
        baseUrl: https://fhir.example.org/r4
        auth:
          type: smart-backend
          clientId: cds-server
          privateKeyFile: keys/cds-server.pem      # relative to this file
          keyId: cds-server-2025
          algorithm: RS384
          scope: >-
            system/Patient.rs system/Observation.rs system/Condition.rs system/MedicationRequest.rs
            system/Encounter.rs system/Group.rs system/RiskAssessment.cu
        bulk: auto          # use $export when the server offers it (auto), never, or always
        writeBack: true     # jobs may write RiskAssessments here
        clients: []         # issuers whose jobs may use it; empty: every authenticated client
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationError

from cds_server.fhir.guard import normalize_base

_DECLARED = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
BACKEND_ID = r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$"


class BackendConfigError(ValueError):
    """The backends file is unusable; the message names the file and the field (never a secret)."""


class BackendAuth(BaseModel):
    model_config = _DECLARED
    type: Literal["none", "smart-backend"]
    clientId: str | None = None
    privateKeyFile: str | None = None
    keyId: str | None = None
    algorithm: Literal["RS384", "ES384", "RS256", "ES256"] = "RS384"
    scope: str = "system/*.rs"
    tokenUrl: str | None = Field(
        default=None, description="Token endpoint; empty: from {baseUrl}/.well-known/smart-configuration."
    )


class BackendDeclaration(BaseModel):
    model_config = _DECLARED
    baseUrl: str = Field(pattern=r"^https?://\S+$")
    auth: BackendAuth
    bulk: Literal["auto", "never", "always"] = "auto"
    writeBack: bool = False
    pageSize: int = Field(default=200, ge=1, le=1000)
    clients: tuple[str, ...] = ()


class _File(BaseModel):
    model_config = _DECLARED
    servers: dict[str, BackendDeclaration] = Field(default_factory=dict)


class Backend:
    """One configured backend server, its signing key loaded."""

    def __init__(self, backend_id: str, declaration: BackendDeclaration, key: RSAKey | ECKey | None) -> None:
        self.id = backend_id
        self.declaration = declaration
        self.base_url = normalize_base(declaration.baseUrl)
        self.key = key

    @property
    def auth(self) -> BackendAuth:
        return self.declaration.auth

    def allows(self, issuer: str) -> bool:
        return not self.declaration.clients or issuer in self.declaration.clients

    def __repr__(self) -> str:  # never the key
        return f"<Backend {self.id} {self.base_url} auth={self.auth.type}>"


class BackendRegistry:
    def __init__(self, backends: Mapping[str, Backend] | None = None) -> None:
        self._backends = dict(backends or {})
        self._by_base = {backend.base_url: backend for backend in self._backends.values()}

    def get(self, backend_id: str) -> Backend | None:
        return self._backends.get(backend_id)

    def for_base(self, base_url: str | None) -> Backend | None:
        """The backend whose base URL is ``base_url`` (a hook's ``fhirServer``, normalised)."""
        return self._by_base.get(normalize_base(base_url)) if base_url else None

    def __iter__(self) -> Iterator[Backend]:
        return iter(self._backends.values())

    def __len__(self) -> int:
        return len(self._backends)


def load_backends(path: Path | None) -> BackendRegistry:
    """Read the backends file (``None``: no backends).

    :raise BackendConfigError: unreadable YAML, a bad field, a missing or unusable key file.
    """
    if path is None:
        return BackendRegistry()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        parsed = _File.model_validate(document)
    except OSError as exc:
        raise BackendConfigError(f"{path}: cannot be read ({type(exc).__name__})") from None
    except yaml.YAMLError:
        raise BackendConfigError(f"{path}: not valid YAML") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise BackendConfigError(f"{path.name}: {problems}") from None
    backends: dict[str, Backend] = {}
    for backend_id, declaration in parsed.servers.items():
        if not re.match(BACKEND_ID, backend_id):
            raise BackendConfigError(f"{path.name}: servers.{backend_id}: not a usable id")
        backends[backend_id] = Backend(backend_id, declaration, _key(path, backend_id, declaration.auth))
    return BackendRegistry(backends)


def _key(path: Path, backend_id: str, auth: BackendAuth) -> RSAKey | ECKey | None:
    where = f"{path.name}: servers.{backend_id}.auth"
    if auth.type == "none":
        return None
    if not (auth.clientId and auth.privateKeyFile and auth.keyId):
        raise BackendConfigError(f"{where}: smart-backend needs clientId, privateKeyFile and keyId")
    key_path = Path(auth.privateKeyFile)
    key_path = key_path if key_path.is_absolute() else path.parent / key_path
    try:
        pem = key_path.read_bytes()
    except OSError:
        raise BackendConfigError(f"{where}.privateKeyFile cannot be read") from None
    try:
        key: RSAKey | ECKey = (
            RSAKey.import_key(pem) if auth.algorithm.startswith("RS") else ECKey.import_key(pem)
        )
    except Exception:  # joserfc raises several types for bad PEM; the text could echo key material
        raise BackendConfigError(
            f"{where}.privateKeyFile is not a {auth.algorithm[:2]} private key"
        ) from None
    if not key.is_private:
        raise BackendConfigError(f"{where}.privateKeyFile holds a public key; the private key is needed")
    return key
