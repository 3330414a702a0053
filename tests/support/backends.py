"""A backend FHIR server for jobs: sekmet-fhir with a SMART Backend Services client registered for us,
and the ``CDS_FHIR_BACKENDS_FILE`` that points the server at it with our private key."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import yaml
from joserfc.jwk import RSAKey

from tests.support.fhir_server import FhirTestServer

CLIENT_ID = "cds-server-jobs"
KEY_ID = "cds-server-jobs-1"
BACKEND_ID = "ehr"


class BackendKey:
    """An RSA key pair: the private half for our backends file, the public JWK for the FHIR server."""

    def __init__(self, folder: Path) -> None:
        self.key = RSAKey.generate_key(2048)
        self.pem = folder / "backend-key.pem"
        self.pem.write_bytes(self.key.as_pem(private=True))

    def public_jwks(self) -> dict[str, Any]:
        jwk = self.key.as_dict(private=False)
        return {"keys": [{**jwk, "kid": KEY_ID, "alg": "RS384", "use": "sig"}]}


def smart_fhir_server(folder: Path, key: BackendKey, patients: Iterable[Path]) -> FhirTestServer:
    server = FhirTestServer(
        folder,
        auth="bearer",
        smart_clients=[{"client_id": CLIENT_ID, "jwks": key.public_jwks(), "scopes": "system/*.*"}],
    )
    server.load(patients)
    return server


def write_backends_file(path: Path, server: FhirTestServer, key: BackendKey, **overrides: Any) -> Path:
    backend: dict[str, Any] = {
        "baseUrl": server.base_url,
        "auth": {
            "type": "smart-backend",
            "clientId": CLIENT_ID,
            "privateKeyFile": str(key.pem),
            "keyId": KEY_ID,
            "algorithm": "RS384",
            # reads of everything, and create/update (the RiskAssessment transaction is a POST to the base)
            "scope": "system/*.rs system/*.cu",
        },
        "bulk": "auto",
        "writeBack": True,
        "pageSize": 50,
    }
    backend.update(overrides)
    path.write_text(yaml.safe_dump({"servers": {BACKEND_ID: backend}}))
    return path


def put_group(server: FhirTestServer, group_id: str, patient_ids: Iterable[str]) -> None:
    group = {
        "resourceType": "Group",
        "id": group_id,
        "type": "person",
        "actual": True,
        "member": [{"entity": {"reference": f"Patient/{pid}"}} for pid in patient_ids],
    }
    response = httpx.put(
        f"{server.base_url}/Group/{group_id}",
        json=group,
        headers={**server.headers, "Content-Type": "application/fhir+json"},
        timeout=30,
    )
    response.raise_for_status()


def read(server: FhirTestServer, path: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}/{path}", headers=server.headers, timeout=30)
