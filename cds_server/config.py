"""Configuration: embedded defaults → ``CDS_*`` environment variables → a test dict.

Every setting is one field of :class:`Settings` with its default and a one-line description; the
README's configuration table is checked against this list by a test, so the two cannot drift.
A setting ``fhir_servers`` is read from ``CDS_FHIR_SERVERS``; lists are comma-separated, booleans
are ``true/false/1/0/yes/no``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import Any

ENV_PREFIX = "CDS_"

#: The repository checkout this package runs from; data folders default to it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: A shorter admin token is guessable; 32 characters is what `openssl rand -hex 16` prints.
MIN_ADMIN_TOKEN_CHARS = 32

LOG_FORMATS = ("text", "json")


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


def _setting(default: Any, doc: str) -> Any:
    if isinstance(default, list):
        return field(default_factory=lambda: tuple(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Settings:
    """All settings of one server process. Build it with :func:`load_settings`."""

    public_base_url: str = _setting(
        "http://127.0.0.1:8000",
        "Public URL of this server as EHRs call it (no trailing slash); JWT `aud` values are built from it.",
    )
    max_body_bytes: int = _setting(5 * 1024 * 1024, "Largest request body accepted, in bytes (413 above).")
    request_deadline_s: float = _setting(
        2.5, "Hard deadline for one hook call including FHIR fetches, in seconds."
    )
    cors_origins: tuple[str, ...] = _setting(
        [],
        "Browser origins allowed by CORS (exact `scheme://host[:port]`; `*` allows any, development only).",
    )
    fhir_servers: tuple[str, ...] = _setting(
        [],
        "FHIR base URLs a request's `fhirServer` may name, for clients that list none of their own; anything "
        "else is never contacted.",
    )
    fhir_open_servers: tuple[str, ...] = _setting(
        [],
        "Subset of `CDS_FHIR_SERVERS` that may be read without `fhirAuthorization` (open servers), for "
        "clients that list none of their own.",
    )
    fhir_allow_http: bool = _setting(
        False, "Allow `http://` FHIR servers (development only; production is https)."
    )
    fhir_allow_private: bool = _setting(
        False, "Allow FHIR servers that resolve to loopback, private or link-local addresses."
    )
    fhir_connect_timeout_s: float = _setting(0.5, "Connect timeout for one FHIR call, in seconds.")
    fhir_read_timeout_s: float = _setting(1.0, "Read timeout for one FHIR call, in seconds.")
    fhir_max_pages: int = _setting(
        5, "Most search result pages followed through `next` links per prefetch key."
    )
    fhir_max_response_bytes: int = _setting(10 * 1024 * 1024, "Largest FHIR response body read, in bytes.")
    fhir_parallel: int = _setting(4, "FHIR calls made in parallel for one hook call.")
    service_modules: tuple[str, ...] = _setting(
        [], "Python modules whose `register_services(registry)` adds callable CDS services."
    )
    log_level: str = _setting("INFO", "Log level of the `cds_server` loggers.")
    log_format: str = _setting(
        "text",
        "Log lines of `cds-server serve` and `cds-server worker`: `text` for people, `json` for log "
        "collectors (one JSON object per line, with the request id; never PHI or tokens).",
    )
    services_dir: str = _setting(
        "cds_services", "Folder of model-backed service declarations (`*.yaml`); relative to the checkout."
    )
    mappings_dir: str = _setting(
        "fhir_mappings", "Folder of FHIR → feature mapping specs; relative to the checkout."
    )
    models_dir: str = _setting(
        "model_artifacts", "Folder of model artifacts (`<model-id>/<version>/`); relative to the checkout."
    )
    model_providers: tuple[str, ...] = _setting(
        [],
        "onnxruntime execution providers in order of preference (e.g. `CUDAExecutionProvider,"
        "CPUExecutionProvider`); empty: each model's `deployment.yaml`, else CUDA then CPU.",
    )
    model_deployments: str = _setting(
        "",
        'JSON overriding active and shadow versions per model, e.g. `{"ascvd-pce": {"active": "1.0.0", '
        '"shadow": ["1.1.0"]}}`; empty: each model\'s `deployment.yaml`.',
    )
    reference_time: str = _setting(
        "",
        'Fixed clinical "now" (ISO 8601 with time zone) for every call, for demos on historical data and '
        "replays; empty: the time each request is received. Never set it in production.",
    )
    database_url: str = _setting(
        "sqlite:///instance/cds-server.db",
        "SQLAlchemy URL of the database: `postgresql://user:password@host:5432/db` in production, a SQLite "
        "file for the embedded default (a relative path is relative to the working directory).",
    )
    db_auto_upgrade: bool = _setting(
        True,
        "Upgrade the schema to the latest migration at start-up (one process at a time); set `false` where "
        "a release step runs `cds-server db upgrade`.",
    )
    db_pool_size: int = _setting(5, "Database connections each server process keeps open.")
    db_max_overflow: int = _setting(5, "Extra database connections a process may open under load.")
    db_pool_timeout_s: float = _setting(
        0.5, "Longest wait for a free database connection before a call answers 503, in seconds."
    )
    db_connect_timeout_s: int = _setting(
        2, "Connect timeout for a new database connection, in seconds (PostgreSQL's minimum is 2)."
    )
    db_statement_timeout_ms: int = _setting(
        1000,
        "Statement timeout on the request path (PostgreSQL `statement_timeout`, SQLite busy timeout), in "
        "milliseconds; an audit row not committed within it makes the call answer 503.",
    )
    decision_retention_days: int = _setting(
        30,
        "Days a decision's inputs (features with provenance: PHI) are kept before `cds-server db purge` "
        "clears them; audit rows, cards and feedback are kept.",
    )
    feedback_max_items: int = _setting(500, "Most feedback items in one feedback POST (413 above).")
    feedback_max_comment_chars: int = _setting(
        4000, "Longest `overrideReason.userComment` accepted, in characters (400 above)."
    )
    admin_token: str = _setting(
        "",
        "Bearer token for the admin endpoints (`/audit`, `/analytics/feedback`, `/admin/...`; 32 characters "
        "or more); unset, those endpoints answer 404.",
    )
    clients_file: str = _setting(
        "",
        "YAML file of trusted EHR clients (issuer, keys, algorithms, tenants, FHIR servers, link hosts); "
        "clients added with `cds-server clients add` are trusted as well.",
    )
    discovery_requires_auth: bool = _setting(
        True,
        "Whether `GET /cds-services` needs a client JWT (a token that is sent is verified either way).",
    )
    jwt_leeway_s: int = _setting(
        60, "Clock skew allowed on a client JWT's `exp`, `iat` and `nbf`, in seconds."
    )
    jwt_max_lifetime_s: int = _setting(
        3600,
        "Longest client JWT lifetime (`exp - iat`) and oldest `iat` accepted, in seconds; a client may "
        "set a shorter one.",
    )
    jwks_ca_file: str = _setting(
        "",
        "CA bundle (PEM) for fetching clients' `jwks_url`; empty: the system's trust store.",
    )
    redis_url: str = _setting(
        "",
        "Redis URL (`redis://host:6379/0`) shared by all workers for JWT replay (`jti`) and rate limits; "
        "empty: replay in the database, rate limits per process.",
    )
    rate_limit_per_s: float = _setting(
        20.0, "Requests per second each client (issuer and tenant) may make on average (429 above)."
    )
    rate_limit_burst: int = _setting(50, "Requests a client may make at once before the average applies.")
    json_max_depth: int = _setting(
        64, "Deepest nesting of arrays and objects in a request body (400 deeper)."
    )
    card_link_hosts: tuple[str, ...] = _setting(
        [],
        "Hosts card links may point to for clients that list none of their own (this server's host always "
        "may); links to other hosts are dropped from cards.",
    )
    dev_client: bool = _setting(
        True,
        "Trust a development client (issuer `urn:cds-server:dev-client`) whose key pair is generated in "
        "`CDS_DEV_CLIENT_DIR`; `cds-server dev token` signs with it. Development only: turn it off in "
        "production.",
    )
    dev_client_dir: str = _setting(
        "instance/dev-client",
        "Folder of the development client's key pair (relative to the working directory).",
    )
    demo_token_networks: tuple[str, ...] = _setting(
        [],
        "Networks (CIDR) besides loopback whose browsers may get development-client tokens from "
        "`/demo/token`, e.g. the Docker bridge `172.16.0.0/12` of the compose stack. Development only.",
    )
    trust_cds_hooks_sandbox: bool = _setting(
        False,
        "Trust the public CDS Hooks Sandbox (`https://sandbox.cds-hooks.org`, key bundled). Its private key "
        "is public: development only.",
    )

    broker_url: str = _setting(
        "",
        "Celery broker of the diagnostic jobs: `redis://host:6379/0` in production, "
        "`amqp://user:pass@host//` for RabbitMQ; empty: the embedded broker (kombu's SQLAlchemy transport "
        "on a SQLite file beside the database, or on the PostgreSQL database itself).",
    )
    job_queue: str = _setting("cds-jobs", "Broker queue the job messages go to (one per deployment).")
    embedded_worker: bool = _setting(
        True,
        "`cds-server serve` also runs a job worker as its child process (dies with it); set `false` where "
        "`cds-server worker` processes run separately.",
    )
    worker_concurrency: int = _setting(2, "Job worker processes of one `cds-server worker` (prefork pool).")
    job_max_attempts: int = _setting(
        3, "Claims of one job (or chunk) before it fails as poison: a worker died or timed out each time."
    )
    job_soft_time_limit_s: int = _setting(
        240, "Seconds a job task may run before it is asked to stop (it then fails with `timeout`)."
    )
    job_time_limit_s: int = _setting(
        300, "Seconds after which a job task's process is killed; below the broker's visibility timeout."
    )
    broker_visibility_timeout_s: int = _setting(
        600,
        "Redis: seconds before an unacknowledged job message is delivered again (above the hard time limit).",
    )
    broker_restore_interval_s: int = _setting(
        10, "Redis: seconds between scans that give unacknowledged messages past the visibility timeout back."
    )
    job_heartbeat_s: float = _setting(
        5.0, "Seconds between a running job's heartbeats (each renews its lease)."
    )
    job_lease_s: float = _setting(
        30.0, "Seconds a job's lease lasts without a heartbeat; after it the reaper hands the job on."
    )
    job_relay_interval_s: float = _setting(
        0.5, "Seconds between the worker's outbox relay runs (publishing accepted jobs to the broker)."
    )
    job_reaper_interval_s: float = _setting(
        5.0, "Seconds between reaper runs (jobs whose worker vanished, messages lost, jobs expired)."
    )
    job_requeue_after_s: int = _setting(
        600, "Seconds a published job may wait unclaimed before the reaper publishes it again."
    )
    job_expire_after_s: int = _setting(
        86400, "Seconds after which a job that is still not finished fails with `expired`."
    )
    job_chunk_size: int = _setting(
        100, "Patients per chunk of a population-scoring job (one task, one batched model run)."
    )
    job_fhir_timeout_s: float = _setting(
        30.0, "Timeout of one backend FHIR request made by a job (connect, read, write), in seconds."
    )
    job_fhir_max_pages: int = _setting(
        200, "Most search result pages a job follows for one query (all pages of a longitudinal record)."
    )
    fhir_backends_file: str = _setting(
        "",
        "YAML file of the FHIR servers jobs read (and write RiskAssessments to), with their backend "
        "credentials (SMART Backend Services); relative to the checkout. Empty: none.",
    )
    job_link_secret: str = _setting(
        "",
        "Key (32+ characters) that signs the result-page links on asynchronous cards; empty: a random key "
        "generated once and kept in the database.",
    )
    job_link_ttl_s: int = _setting(7 * 86400, "Seconds a signed result-page link stays valid.")
    job_modules: tuple[str, ...] = _setting(
        [], "Python modules whose `register_jobs(kinds)` adds job kinds (besides the built-in ones)."
    )

    @property
    def fixed_now(self) -> datetime | None:
        """The configured clinical "now", or ``None`` to use each request's receipt time."""
        return datetime.fromisoformat(self.reference_time) if self.reference_time else None

    def folder(self, name: str) -> Path:
        """A folder setting as a path; relative ones are relative to the checkout holding ``cds_server/``."""
        path = Path(getattr(self, name))
        return path if path.is_absolute() else PROJECT_ROOT / path

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def docs(cls) -> dict[str, tuple[str, Any]]:
        """``{ENV_NAME: (description, default)}`` for every setting, in declaration order."""
        out: dict[str, tuple[str, Any]] = {}
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            out[ENV_PREFIX + f.name.upper()] = (f.metadata["doc"], default)
        return out


def load_settings(
    overrides: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then ``CDS_*`` variables from ``environ`` (``os.environ`` by default), then ``overrides``.

    ``overrides`` keys are setting names in any case (``"fhir_servers"`` or ``"FHIR_SERVERS"``); an unknown
    key is an error so that a typo in a test or a deployment cannot pass silently.
    """
    env = os.environ if environ is None else environ
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for name, f in fields.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None:
            values[name] = _parse(name, f.type, raw)
    for key, value in (overrides or {}).items():
        name = key.lower().removeprefix(ENV_PREFIX.lower())
        if name not in fields:
            raise ConfigError(f"unknown setting {key!r}")
        values[name] = (
            _parse(name, fields[name].type, value) if isinstance(value, str) else _coerce(name, value)
        )
    settings = Settings(**values)
    _check(settings)
    return settings


def _parse(name: str, type_name: Any, raw: str) -> Any:
    text = str(type_name)
    try:
        if text.startswith("tuple"):
            return tuple(item.strip() for item in raw.split(",") if item.strip())
        if text == "bool":
            lowered = raw.strip().lower()
            if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(raw)
            return lowered in {"true", "1", "yes"}
        if text == "int":
            return int(raw)
        if text == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"setting {ENV_PREFIX}{name.upper()} has an unusable value") from None
    return raw


def _coerce(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    return value


def _check(settings: Settings) -> None:
    if settings.public_base_url.endswith("/"):
        raise ConfigError("CDS_PUBLIC_BASE_URL must not end with '/'")
    if settings.reference_time:
        try:
            fixed = datetime.fromisoformat(settings.reference_time)
        except ValueError:
            raise ConfigError("CDS_REFERENCE_TIME is not an ISO 8601 date-time") from None
        if fixed.tzinfo is None:
            raise ConfigError("CDS_REFERENCE_TIME needs a time zone (e.g. 2020-06-01T00:00:00+00:00)")
    for name in (
        "max_body_bytes",
        "fhir_max_pages",
        "fhir_parallel",
        "fhir_max_response_bytes",
        "db_pool_size",
        "db_connect_timeout_s",
        "db_statement_timeout_ms",
        "decision_retention_days",
        "feedback_max_items",
        "feedback_max_comment_chars",
        "jwt_max_lifetime_s",
        "rate_limit_burst",
        "json_max_depth",
    ):
        if getattr(settings, name) < 1:
            raise ConfigError(f"setting {ENV_PREFIX}{name.upper()} must be at least 1")
    _check_auth(settings)
    if settings.db_max_overflow < 0:
        raise ConfigError("setting CDS_DB_MAX_OVERFLOW must not be negative")
    if settings.admin_token and len(settings.admin_token) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(f"CDS_ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_CHARS} characters long")
    if not settings.database_url:
        raise ConfigError("CDS_DATABASE_URL must not be empty")
    for name in ("request_deadline_s", "fhir_connect_timeout_s", "fhir_read_timeout_s", "db_pool_timeout_s"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting {ENV_PREFIX}{name.upper()} must be positive")
    unknown_open = set(settings.fhir_open_servers) - set(settings.fhir_servers)
    if unknown_open:
        raise ConfigError("every CDS_FHIR_OPEN_SERVERS entry must also be in CDS_FHIR_SERVERS")
    _check_jobs(settings)
    _check_operations(settings)


def _check_operations(settings: Settings) -> None:
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError("CDS_LOG_FORMAT must be 'text' or 'json'")
    for network in settings.demo_token_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError("CDS_DEMO_TOKEN_NETWORKS holds a value that is not a CIDR network") from None


def _check_jobs(settings: Settings) -> None:
    """The job timings must nest, or a slow job would be delivered twice or reaped while alive."""
    for name in (
        "worker_concurrency",
        "job_max_attempts",
        "job_soft_time_limit_s",
        "broker_visibility_timeout_s",
        "broker_restore_interval_s",
        "job_requeue_after_s",
        "job_expire_after_s",
        "job_chunk_size",
        "job_fhir_max_pages",
        "job_link_ttl_s",
    ):
        if getattr(settings, name) < 1:
            raise ConfigError(f"setting {ENV_PREFIX}{name.upper()} must be at least 1")
    for name in ("job_heartbeat_s", "job_relay_interval_s", "job_reaper_interval_s", "job_fhir_timeout_s"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting {ENV_PREFIX}{name.upper()} must be positive")
    if not settings.job_soft_time_limit_s < settings.job_time_limit_s < settings.broker_visibility_timeout_s:
        raise ConfigError(
            "CDS_JOB_SOFT_TIME_LIMIT_S < CDS_JOB_TIME_LIMIT_S < CDS_BROKER_VISIBILITY_TIMEOUT_S must hold "
            "(a message must not come back while its task may still run)"
        )
    if settings.job_lease_s < 2 * settings.job_heartbeat_s:
        raise ConfigError(
            "CDS_JOB_LEASE_S must be at least twice CDS_JOB_HEARTBEAT_S (one heartbeat may be late)"
        )
    if settings.job_link_secret and len(settings.job_link_secret) < MIN_ADMIN_TOKEN_CHARS:
        raise ConfigError(f"CDS_JOB_LINK_SECRET must be at least {MIN_ADMIN_TOKEN_CHARS} characters long")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,128}", settings.job_queue):
        raise ConfigError("CDS_JOB_QUEUE may hold letters, digits, '.', '_' and '-' only")


def _check_auth(settings: Settings) -> None:
    if settings.jwt_leeway_s < 0:
        raise ConfigError("setting CDS_JWT_LEEWAY_S must not be negative")
    if settings.rate_limit_per_s <= 0:
        raise ConfigError("setting CDS_RATE_LIMIT_PER_S must be positive")
