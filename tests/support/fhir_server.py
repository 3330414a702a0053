"""A real FHIR R4 server for integration tests: sekmet-fhir, started in a temporary folder.

It runs as a subprocess on a free loopback port, with its own SQLite file, loaded with Synthea
patients through PUT transactions so their ids stay as in the bundles. ``auth="bearer"`` makes it
demand one of ``tokens``; ``auth="none"`` makes it an open server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.synthea import as_put_transaction
from tests.support.synthea import load_bundle


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FhirTestServer:
    def __init__(
        self,
        workdir: Path,
        *,
        auth: str = "bearer",
        tokens: Iterable[str] = ("test-fhir-token",),
        smart_clients: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/fhir"
        self.tokens = list(tokens)
        self.auth = auth
        settings = {
            "base_url": self.base_url,
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(workdir / "data"),
            # SMART backend-services clients (private_key_jwt) may get tokens besides the static ones
            "server_auth": {
                "types": [auth, "smart"] if smart_clients else [auth],
                "tokens": self.tokens,
                "smart_clients": [dict(client) for client in smart_clients],
            },
            "validation": {"inbound": "off"},
            "simulator": {"enabled": False},
            "log_inbound": False,
        }
        (workdir / "settings.yaml").write_text(yaml.safe_dump(settings))
        self._log = (workdir / "sekmet.log").open("wb")
        executable = Path(sys.executable).parent / "sekmet"
        self._process = subprocess.Popen(
            [str(executable), "serve", "-c", str(workdir / "settings.yaml")],
            cwd=workdir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[0]}"} if self.auth == "bearer" else {}

    def _wait_ready(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._process.poll() is not None:
                raise RuntimeError(f"sekmet exited; see {self.workdir / 'sekmet.log'}")
            try:
                if httpx.get(f"{self.base_url}/metadata", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("sekmet did not start in time")

    def load(self, patients: Iterable[str | Path]) -> None:
        with httpx.Client(headers=self.headers, timeout=120) as client:
            for patient in patients:
                bundle = as_put_transaction(load_bundle(patient))
                response = client.post(
                    self.base_url, json=bundle, headers={"Content-Type": "application/fhir+json"}
                )
                response.raise_for_status()
                statuses = {entry["response"]["status"][:3] for entry in response.json()["entry"]}
                if not statuses <= {"200", "201"}:
                    raise RuntimeError(f"loading {patient} gave statuses {statuses}")

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
        self._log.close()
