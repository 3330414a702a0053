"""Building the authentication parts of an app from its settings (called by ``create_app``)."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import yaml

from cds_server.auth.authenticator import Authenticator
from cds_server.auth.client_store import load_clients
from cds_server.auth.clients import ClientConfigError
from cds_server.auth.clients import ClientSpec
from cds_server.auth.clients import TrustedClient
from cds_server.auth.clients import build_client
from cds_server.auth.clients import parse_spec
from cds_server.auth.devclient import dev_client_spec
from cds_server.auth.devclient import ensure_dev_key
from cds_server.auth.events import SecurityEvents
from cds_server.auth.jwks import JwksCache
from cds_server.auth.jwks import JwksFetcher
from cds_server.auth.ratelimit import Limit
from cds_server.auth.ratelimit import LocalRateLimiter
from cds_server.auth.ratelimit import RateLimiter
from cds_server.auth.ratelimit import RedisRateLimiter
from cds_server.auth.registry import ClientRegistry
from cds_server.auth.replay import RedisReplayStore
from cds_server.auth.replay import ReplayStore
from cds_server.auth.replay import SqlReplayStore
from cds_server.auth.replay import redis_client
from cds_server.auth.sandbox import sandbox_spec
from cds_server.auth.verify import JwtPolicy
from cds_server.config import ConfigError
from cds_server.config import Settings
from cds_server.persistence.database import Database

log = logging.getLogger("cds_server.security")


def build_authenticator(settings: Settings, database: Database) -> Authenticator:
    """:raise ConfigError: the clients file or a development key cannot be used."""
    fixed = fixed_clients(settings)
    registry = ClientRegistry(
        fixed,
        load_dynamic=lambda: load_clients(
            database, allow_http=settings.fhir_allow_http, allow_private=settings.fhir_allow_private
        ),
    )
    replay: ReplayStore
    limiter: RateLimiter
    if settings.redis_url:
        client = redis_client(settings.redis_url)
        replay, limiter = RedisReplayStore(client), RedisRateLimiter(client)
    else:
        replay, limiter = SqlReplayStore(database), LocalRateLimiter()
    verify: ssl.SSLContext | bool = True
    if settings.jwks_ca_file:
        verify = ssl.create_default_context(cafile=settings.jwks_ca_file)
    return Authenticator(
        registry=registry,
        keys=JwksCache(JwksFetcher(verify=verify)),
        replay=replay,
        limiter=limiter,
        events=SecurityEvents(database),
        policy=JwtPolicy(leeway_s=settings.jwt_leeway_s, max_lifetime_s=settings.jwt_max_lifetime_s),
        default_limit=Limit(per_s=settings.rate_limit_per_s, burst=settings.rate_limit_burst),
    )


def fixed_clients(settings: Settings) -> dict[str, TrustedClient]:
    """The clients known at start-up: the file, then the development client and the sandbox."""
    specs: list[tuple[ClientSpec, str]] = []
    if settings.clients_file:
        specs.extend((spec, "file") for spec in read_clients_file(Path(settings.clients_file)))
    if settings.dev_client:
        log.warning(
            "DEVELOPMENT CLIENT IS TRUSTED: anyone who can read %s can call this server "
            "(set CDS_DEV_CLIENT=false in production)",
            settings.dev_client_dir,
        )
        try:
            signing = ensure_dev_key(Path(settings.dev_client_dir))
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"CDS_DEV_CLIENT_DIR cannot hold the development key: {type(error).__name__}"
            ) from None
        specs.append((dev_client_spec(signing), "development"))
    if settings.trust_cds_hooks_sandbox:
        log.warning(
            "CDS HOOKS SANDBOX IS TRUSTED: its private key is public, anyone can sign as it "
            "(development only; set CDS_TRUST_CDS_HOOKS_SANDBOX=false)"
        )
        specs.append((sandbox_spec(), "sandbox"))
    clients: dict[str, TrustedClient] = {}
    for spec, source in specs:
        if spec.issuer in clients:
            raise ConfigError(f"client issuer {spec.issuer!r} is registered twice")
        try:
            clients[spec.issuer] = build_client(
                spec,
                source=source,  # type: ignore[arg-type]
                allow_http=settings.fhir_allow_http,
                allow_private=settings.fhir_allow_private,
            )
        except ClientConfigError as error:
            raise ConfigError(str(error)) from None
    return clients


def read_clients_file(path: Path) -> list[ClientSpec]:
    """The clients of a YAML file ``{clients: [{issuer: ..., jwks_url: ..., ...}, ...]}``.

    :raise ConfigError: unreadable, not that shape, or a client that does not validate.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        raise ConfigError(f"CDS_CLIENTS_FILE {path} cannot be read as YAML") from None
    if not isinstance(document, dict) or not isinstance(document.get("clients"), list):
        raise ConfigError(f"CDS_CLIENTS_FILE {path} must have a top-level 'clients' list")
    specs = []
    for position, item in enumerate(document["clients"]):
        if not isinstance(item, dict):
            raise ConfigError(f"CDS_CLIENTS_FILE {path}: client {position} is not a mapping")
        try:
            specs.append(parse_spec(item, where=f"CDS_CLIENTS_FILE {path}, client {position}"))
        except ClientConfigError as error:
            raise ConfigError(str(error)) from None
    return specs
