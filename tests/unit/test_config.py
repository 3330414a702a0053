"""Configuration: defaults → CDS_* environment → test dict."""

from __future__ import annotations

import pytest

from cds_server.config import ConfigError
from cds_server.config import Settings
from cds_server.config import load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings(environ={})
    assert settings.max_body_bytes == 5 * 1024 * 1024
    assert settings.fhir_servers == ()
    assert settings.request_deadline_s == 2.5


def test_environment_overrides_defaults_and_parses_types() -> None:
    settings = load_settings(
        environ={
            "CDS_FHIR_SERVERS": "https://a.example/fhir, https://b.example/fhir",
            "CDS_FHIR_ALLOW_HTTP": "yes",
            "CDS_MAX_BODY_BYTES": "1024",
            "CDS_FHIR_READ_TIMEOUT_S": "0.25",
        }
    )
    assert settings.fhir_servers == ("https://a.example/fhir", "https://b.example/fhir")
    assert settings.fhir_allow_http is True
    assert settings.max_body_bytes == 1024
    assert settings.fhir_read_timeout_s == 0.25


def test_test_dict_wins_over_environment() -> None:
    settings = load_settings(
        {"MAX_BODY_BYTES": 10, "fhir_servers": ["https://c/fhir"]}, environ={"CDS_MAX_BODY_BYTES": "99"}
    )
    assert settings.max_body_bytes == 10
    assert settings.fhir_servers == ("https://c/fhir",)


@pytest.mark.parametrize(
    ("overrides", "environ"),
    [
        ({"no_such_setting": 1}, {}),
        ({}, {"CDS_FHIR_ALLOW_HTTP": "maybe"}),
        ({}, {"CDS_MAX_BODY_BYTES": "lots"}),
        ({"max_body_bytes": 0}, {}),
        ({"request_deadline_s": 0}, {}),
        ({"public_base_url": "https://cds.example.org/"}, {}),
        ({"fhir_open_servers": ["https://x/fhir"]}, {}),
        ({}, {"CDS_LOG_FORMAT": "xml"}),
        ({}, {"CDS_DEMO_TOKEN_NETWORKS": "172.16.0.0/12,not-a-network"}),
    ],
)
def test_unusable_settings_fail_loudly(overrides: dict[str, object], environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(overrides, environ=environ)


def test_every_setting_is_documented() -> None:
    docs = Settings.docs()
    assert len(docs) == len(Settings.names())
    assert all(name.startswith("CDS_") and text for name, (text, _) in docs.items())
