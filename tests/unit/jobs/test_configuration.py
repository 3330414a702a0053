"""Job settings that must nest, the backends file, async service declarations, the broker URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from joserfc.jwk import RSAKey

from cds_server.config import ConfigError
from cds_server.config import load_settings
from cds_server.fhir.backends import BackendConfigError
from cds_server.fhir.backends import load_backends
from cds_server.jobs.claims import HOST
from cds_server.jobs.claims import holder_is_dead
from cds_server.tasks import broker_url
from cds_server.tasks import celery_config


@pytest.mark.parametrize(
    "settings",
    [
        {"job_soft_time_limit_s": 300, "job_time_limit_s": 300},
        {"job_time_limit_s": 700, "broker_visibility_timeout_s": 600},
        {"job_lease_s": 5, "job_heartbeat_s": 5},
        {"job_max_attempts": 0},
        {"job_queue": "a queue"},
        {"job_link_secret": "short"},
    ],
)
def test_job_timings_that_do_not_nest_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        load_settings(settings, environ={})


def test_the_celery_configuration_makes_jobs_at_least_once() -> None:
    config = celery_config(load_settings({"broker_url": "redis://127.0.0.1:6379/0"}, environ={}))
    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["task_soft_time_limit"] < config["task_time_limit"]
    assert config["task_time_limit"] < config["broker_transport_options"]["visibility_timeout"]
    assert config["task_ignore_result"] is True
    assert config["result_backend"] is None
    rabbit = celery_config(load_settings({"broker_url": "amqp://guest:guest@127.0.0.1:5672//"}, environ={}))
    assert rabbit["broker_transport_options"] == {"confirm_publish": True}


def test_the_embedded_broker_sits_beside_the_database() -> None:
    assert broker_url(load_settings({"database_url": "sqlite:////data/cds.db"}, environ={})) == (
        "sqla+sqlite:////data/cds-broker.db"
    )
    postgres = broker_url(load_settings({"database_url": "postgresql://u:p@db/cds"}, environ={}))
    assert postgres == "sqla+postgresql+psycopg://u:p@db/cds"


def test_only_a_dead_process_on_this_host_counts_as_a_dead_holder() -> None:
    assert holder_is_dead(f"{HOST}:999999999:x")
    assert not holder_is_dead("other-host:999999999:x")
    assert not holder_is_dead(f"{HOST}:1:x")  # pid 1 exists
    assert not holder_is_dead(None)
    assert not holder_is_dead("garbage")


def write_backends(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document))
    return path


def test_backends_file(tmp_path: Path) -> None:
    pem = tmp_path / "key.pem"
    pem.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    document = {
        "servers": {
            "ehr": {
                "baseUrl": "https://fhir.example.org/r4/",
                "auth": {"type": "smart-backend", "clientId": "c", "privateKeyFile": "key.pem", "keyId": "k"},
            },
            "open": {
                "baseUrl": "http://open.example.org/fhir",
                "auth": {"type": "none"},
                "clients": ["iss-a"],
            },
        }
    }
    backends = load_backends(write_backends(tmp_path / "b.yaml", document))
    assert backends.for_base("https://FHIR.example.org/r4") is backends.get("ehr")
    ehr = backends.get("ehr")
    assert ehr is not None
    assert ehr.key is not None
    assert "BEGIN" not in repr(ehr)
    opened = backends.get("open")
    assert opened is not None
    assert opened.allows("iss-a")
    assert not opened.allows("iss-b")
    assert load_backends(None).get("ehr") is None


@pytest.mark.parametrize(
    ("auth", "problem"),
    [
        (
            {"type": "smart-backend", "clientId": "c", "keyId": "k"},
            "needs clientId, privateKeyFile and keyId",
        ),
        (
            {"type": "smart-backend", "clientId": "c", "keyId": "k", "privateKeyFile": "missing.pem"},
            "cannot be read",
        ),
        (
            {"type": "smart-backend", "clientId": "c", "keyId": "k", "privateKeyFile": "b.yaml"},
            "not a RS private key",
        ),
        ({"type": "magic"}, "auth.type"),
    ],
)
def test_unusable_backends_fail_start_up_naming_the_field(
    tmp_path: Path, auth: dict[str, Any], problem: str
) -> None:
    path = write_backends(
        tmp_path / "b.yaml", {"servers": {"ehr": {"baseUrl": "https://x.org/fhir", "auth": auth}}}
    )
    with pytest.raises(BackendConfigError, match=problem):
        load_backends(path)
