"""Trusted EHR clients: what an operator registers, checked once, and the ready-to-use form.

A client is registered by its ``iss``. Its signing keys come from exactly one place: an inline JWKS
(``jwks``) or one HTTPS URL (``jwks_url``) that the server fetches itself. A token's ``jku`` header is
never fetched; it is accepted only when it equals the registered URL (``jwks_url``, or ``jku`` for an
inline JWKS that its EHR also publishes, as the CDS Hooks Sandbox does).

:class:`ClientSpec` is the document form (YAML file, database row, ``cds-server clients add``);
:func:`build_client` turns it into a :class:`TrustedClient` with its keys imported once, so no request
ever parses a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Literal
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationError
from pydantic import field_validator
from pydantic import model_validator

from cds_server.fhir.guard import FhirServerPolicy
from cds_server.fhir.guard import normalize_base

#: Signature algorithms a client may be allowed. Never ``none`` and never a symmetric (HS*) one: the
#: CDS Hooks spec forbids them, and a public key must never double as an HMAC secret.
SUPPORTED_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
DEFAULT_ALGORITHMS = ("ES384", "RS384")

ClientSource = Literal["file", "database", "development", "sandbox"]


class ClientConfigError(ValueError):
    """A client registration cannot be used; the message says which field and why."""


class ClientSpec(BaseModel):
    """One trusted client as an operator writes it down."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    issuer: str = Field(min_length=1, max_length=2048)
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = Field(default=None, max_length=2048)
    jku: str | None = Field(default=None, max_length=2048)
    algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    tenants: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = ()
    fhir_open_servers: tuple[str, ...] = ()
    card_link_hosts: tuple[str, ...] = ()
    max_lifetime_s: int | None = Field(default=None, ge=1)
    leeway_s: int | None = Field(default=None, ge=0, le=600)
    rate_limit_per_s: float | None = Field(default=None, gt=0)
    rate_limit_burst: int | None = Field(default=None, ge=1)

    @field_validator("algorithms")
    @classmethod
    def _supported(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - SUPPORTED_ALGORITHMS)
        if unknown or not value:
            raise ValueError(f"algorithms must be among {sorted(SUPPORTED_ALGORITHMS)}")
        return value

    @field_validator("jwks_url", "jku")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme != "https" or not parts.hostname or parts.username or parts.password:
                raise ValueError("must be an https:// URL without user information")
        return value

    @field_validator("fhir_servers", "fhir_open_servers")
    @classmethod
    def _bases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if urlsplit(url).scheme not in ("https", "http") or not urlsplit(url).hostname:
                raise ValueError("must be http(s) base URLs")
        return value

    @field_validator("card_link_hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(host.strip().lower() for host in value if host.strip())

    @model_validator(mode="after")
    def _one_key_source(self) -> ClientSpec:
        if (self.jwks is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks (inline keys) and jwks_url")
        if self.jku is not None and self.jwks_url is not None and self.jku != self.jwks_url:
            raise ValueError("with jwks_url, the accepted jku is jwks_url itself")
        open_servers = {normalize_base(url) for url in self.fhir_open_servers}
        if not open_servers <= {normalize_base(url) for url in self.fhir_servers}:
            raise ValueError("every fhir_open_servers entry must also be in fhir_servers")
        return self

    def as_document(self) -> dict[str, Any]:
        """The spec as a JSON document without defaults (what the database stores)."""
        return self.model_dump(mode="json", exclude_defaults=True)


def parse_spec(document: Mapping[str, Any], *, where: str) -> ClientSpec:
    """:raise ClientConfigError: naming ``where`` and the bad fields (never the values)."""
    try:
        return ClientSpec.model_validate(dict(document))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'client'}: {item['msg']}"
            for item in error.errors()
        )
        raise ClientConfigError(f"{where}: {problems}") from None


@dataclass(frozen=True, eq=False)
class TrustedClient:
    """A registered client, ready for the request path (keys imported, URLs normalised)."""

    issuer: str
    #: ``kid`` → key, for inline JWKS; ``None`` when the keys come from ``jwks_url``
    keys: Mapping[str, Any] | None
    jwks_url: str | None
    #: the only ``jku`` header value accepted (never fetched from the token)
    jku: str | None
    algorithms: frozenset[str]
    tenants: frozenset[str]
    #: the client's own fhirServer allow-list; ``None``: the server-wide ``CDS_FHIR_SERVERS``
    fhir_policy: FhirServerPolicy | None
    card_link_hosts: frozenset[str]
    max_lifetime_s: int | None
    leeway_s: int | None
    rate_limit_per_s: float | None
    rate_limit_burst: int | None
    source: ClientSource

    @property
    def development_only(self) -> bool:
        return self.source in ("development", "sandbox")


def build_client(
    spec: ClientSpec, *, source: ClientSource, allow_http: bool = False, allow_private: bool = False
) -> TrustedClient:
    """Import the keys and build the FHIR policy once.

    :raise ClientConfigError: a key cannot be imported, has no ``kid``, or is private.
    """
    keys = None if spec.jwks is None else import_jwks(spec.jwks, where=f"client {spec.issuer!r}")
    policy = None
    if spec.fhir_servers:
        policy = FhirServerPolicy.build(
            spec.fhir_servers, spec.fhir_open_servers, allow_http=allow_http, allow_private=allow_private
        )
    return TrustedClient(
        issuer=spec.issuer,
        keys=keys,
        jwks_url=spec.jwks_url,
        jku=spec.jwks_url or spec.jku,
        algorithms=frozenset(spec.algorithms),
        tenants=frozenset(spec.tenants),
        fhir_policy=policy,
        card_link_hosts=frozenset(spec.card_link_hosts),
        max_lifetime_s=spec.max_lifetime_s,
        leeway_s=spec.leeway_s,
        rate_limit_per_s=spec.rate_limit_per_s,
        rate_limit_burst=spec.rate_limit_burst,
        source=source,
    )


def import_jwks(document: Mapping[str, Any], *, where: str, public_only: bool = True) -> dict[str, Any]:
    """``kid`` → imported key for every key of a JWKS document.

    :raise ClientConfigError: not a JWKS, a key without ``kid`` (joserfc would otherwise pick "the
        first key" for a token naming another), a duplicate ``kid``, or private key material.
    """
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise ClientConfigError(f"{where}: jwks must be a JSON Web Key Set with at least one key")
    keys: dict[str, Any] = {}
    for position, raw in enumerate(raw_keys):
        if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str) or not raw["kid"]:
            raise ClientConfigError(f"{where}: key {position} has no kid")
        if public_only and "d" in raw:
            raise ClientConfigError(
                f"{where}: key {raw['kid']!r} holds private key material; register public keys"
            )
        if raw.get("kty") == "oct":
            raise ClientConfigError(f"{where}: symmetric keys are not accepted")
        try:
            key = KeySet.import_key_set({"keys": [raw]}).keys[0]
        except (JoseError, ValueError, TypeError):
            raise ClientConfigError(f"{where}: key {raw['kid']!r} cannot be imported") from None
        if raw["kid"] in keys:
            raise ClientConfigError(f"{where}: kid {raw['kid']!r} appears twice")
        keys[raw["kid"]] = key
    return keys
