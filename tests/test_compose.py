"""docker-compose.yml and the Dockerfile, checked by reading them: Docker cannot run here (nor in CI).

Every service, port, volume and ``CDS_*`` variable the compose file names must exist — the variables
as settings whose values the server accepts, the commands as ``cds-server`` commands and options,
the files it mounts and the Dockerfile copies in the checkout — and the README's compose table must
list exactly its services, images and published ports.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from cds_server.auth.clients import build_client
from cds_server.auth.factory import read_clients_file
from cds_server.cli import main as cli
from cds_server.config import Settings
from cds_server.config import load_settings
from tests.support.paths import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
README = (REPO_ROOT / "README.md").read_text()
APP_SERVICES = ("setup", "web", "worker", "scheduler")
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}")


def resolved(value: str) -> str:
    """Compose's ``${NAME:-default}`` with nothing set in the shell: the default."""
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: resolved(str(value)) for name, value in env.items()}


def command(service: str) -> list[str]:
    value = SERVICES[service]["command"]
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def host_ports(service: str) -> list[int]:
    return [int(str(port).split(":")[0]) for port in SERVICES[service].get("ports", [])]


def readme_compose_table() -> dict[str, tuple[str, str]]:
    section = README.split("<!-- compose:start -->")[1].split("<!-- compose:end -->")[0]
    rows = re.findall(r"^\| `([a-z-]+)` \| `([^`]+)` \| ([^|]+) \|", section, flags=re.MULTILINE)
    return {name: (image, ports.strip()) for name, image, ports in rows}


def test_the_services_are_the_stack_the_issue_asks_for() -> None:
    assert set(SERVICES) == {"postgres", "redis", "fhir", "setup", "web", "worker", "scheduler"}
    assert SERVICES["fhir"]["image"].startswith("hapiproject/hapi:")  # the official HAPI FHIR image
    for service in APP_SERVICES:
        assert SERVICES[service]["image"] == "cds-server:dev"
        assert SERVICES[service]["build"] == "."


def test_every_dependency_exists_and_waits_for_health_or_completion() -> None:
    for name, service in SERVICES.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in SERVICES, (name, target)
            condition = rule["condition"]
            assert condition in {"service_healthy", "service_completed_successfully", "service_started"}
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target}'s health check"
            if condition == "service_started":
                # only HAPI: its distroless image cannot run a health check; setup polls /metadata
                assert (name, target) == ("setup", "fhir")
    for service in ("web", "worker", "scheduler"):
        assert SERVICES[service]["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert "--wait" in command("setup")[-1]
    assert SERVICES["setup"]["restart"] == "no"
    for service in ("postgres", "redis", "web"):
        assert "healthcheck" in SERVICES[service]
    assert "/readyz" in " ".join(SERVICES["web"]["healthcheck"]["test"])


def test_every_cds_variable_is_a_setting_with_a_value_the_server_accepts() -> None:
    known = set(Settings.docs())
    for service in APP_SERVICES:
        env = environment(service)
        cds = {name: value for name, value in env.items() if name.startswith("CDS_")}
        assert set(cds) <= known, sorted(set(cds) - known)
        settings = load_settings(environ=cds)
        assert settings.embedded_worker is False
        assert settings.db_auto_upgrade is False
        assert settings.broker_url.startswith("redis://redis:")
        assert settings.database_url.startswith("postgresql://")
        assert "@postgres:5432/" in settings.database_url
        assert settings.log_format == "json"


def test_the_clients_file_is_mounted_and_trusts_the_sandbox_for_the_stacks_fhir_server() -> None:
    settings = load_settings(environ={k: v for k, v in environment("web").items() if k.startswith("CDS_")})
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in SERVICES["web"]["volumes"]}
    source = REPO_ROOT / mounts[settings.clients_file]
    (sandbox,) = read_clients_file(source)
    assert sandbox.issuer == "https://sandbox.cds-hooks.org"
    assert sandbox.algorithms == ("ES384",)
    client = build_client(sandbox, source="file", allow_http=True, allow_private=True)
    assert client.fhir_policy is not None
    assert "http://fhir:8080/fhir" in settings.fhir_servers


def test_every_command_is_a_cds_server_command_with_known_options() -> None:
    for service in APP_SERVICES:
        for line in " ".join(command(service)).split("&&"):
            words = shlex.split(line.replace("sh -c", ""))
            assert words[0] == "cds-server", line
            current: click.Command = cli
            for word in words[1:]:
                if isinstance(current, click.Group) and word in current.commands:
                    current = current.commands[word]
                elif word.startswith("--"):
                    options = {opt for param in current.params for opt in getattr(param, "opts", [])}
                    assert word in options, (service, word)
            assert not isinstance(current, click.Group), line


def test_ports_volumes_and_mounts_exist() -> None:
    declared = set(COMPOSE["volumes"])
    used = set()
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), (name, source)
            else:
                used.add(source)
    assert used == declared
    assert host_ports("web") == [8000]
    assert host_ports("fhir") == [8080]
    web = command("web")
    assert web[web.index("--port") + 1] == "8000"


def test_the_readme_compose_section_lists_exactly_the_services_images_and_ports() -> None:
    table = readme_compose_table()
    assert set(table) == set(SERVICES)
    for name, (image, ports) in table.items():
        assert image == SERVICES[name]["image"], name
        published = host_ports(name)
        assert ports == (", ".join(str(p) for p in published) if published else "—"), name
    for volume in COMPOSE["volumes"]:
        assert f"`{volume}`" in README


@pytest.mark.parametrize(
    "line", [line for line in (REPO_ROOT / "Dockerfile").read_text().splitlines() if line.startswith("COPY ")]
)
def test_the_dockerfile_copies_files_that_exist(line: str) -> None:
    *sources, _ = line.split()[1:]
    for source in sources:
        assert (REPO_ROOT / source).exists(), source


def test_the_dockerfile_runs_what_the_compose_file_expects() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "EXPOSE 8000" in dockerfile
    assert re.search(r"urlopen\('http://127\.0\.0\.1:8000/healthz'", dockerfile)
    assert 'CMD ["cds-server", "serve"' in dockerfile
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored
    assert "instance" in ignored
    assert Path(REPO_ROOT / "deploy" / "clients.dev.yaml").is_file()
