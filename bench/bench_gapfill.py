"""Gap-fill benchmark: the reference hook with its prefetch omitted, completed from a real FHIR server.

Starts the test FHIR server (sekmet-fhir, from the ``test`` extra) on loopback, loads the reference
patient, and times ``POST /cds-services/ascvd-risk`` in process with ``fhirServer`` +
``fhirAuthorization`` and no prefetch: the server fetches Patient, Observations (paged), Conditions
and MedicationRequests in parallel, then answers as usual.

    .venv/bin/python bench/bench_gapfill.py [--repeat 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.requests import REFERENCE_PATIENT
from bench.requests import REFERENCE_TIME
from bench.requests import SYNTHEA
from bench.stats import median_p99
from cds_server import create_app
from cds_server.auth.devclient import DEV_ISSUER
from cds_server.auth.devclient import ensure_dev_key
from cds_server.auth.devclient import mint_token
from cds_server.state import get_state
from tests.support.fhir_server import FhirTestServer
from tests.support.synthea import patient_id

SERVICE = "ascvd-risk"


def run(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "fhir").mkdir()
        fhir = FhirTestServer(work / "fhir", auth="bearer")
        try:
            fhir.load([next(SYNTHEA.glob(f"{REFERENCE_PATIENT}_*.json"))])
            app = create_app(
                {
                    "reference_time": REFERENCE_TIME,
                    "database_url": f"sqlite:///{work}/gapfill.db",
                    "dev_client_dir": str(work / "dev"),
                    "fhir_servers": [fhir.base_url],
                    "fhir_allow_http": True,
                    "fhir_allow_private": True,
                    "log_level": "WARNING",
                    "embedded_worker": False,
                    "rate_limit_per_s": 10000,
                    "rate_limit_burst": 10000,
                }
            )
            state = get_state(app)
            key = ensure_dev_key(work / "dev")
            url = f"{state.settings.public_base_url}/cds-services/{SERVICE}"
            client = app.test_client()
            samples: list[float] = []
            calls = 0
            for index in range(repeat + 5):
                body = {
                    "hook": "patient-view",
                    "hookInstance": str(uuid.uuid4()),
                    "fhirServer": fhir.base_url,
                    "fhirAuthorization": {
                        "access_token": fhir.tokens[0],
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "scope": "user/*.read",
                        "subject": "cds-server",
                    },
                    "context": {"userId": "Practitioner/bench", "patientId": patient_id(REFERENCE_PATIENT)},
                }
                token = mint_token(key, issuer=DEV_ISSUER, audience=url, lifetime_s=300)
                start = time.perf_counter()
                response = client.post(
                    f"/cds-services/{SERVICE}",
                    data=orjson.dumps(body),
                    content_type="application/json",
                    headers={"Authorization": f"Bearer {token}"},
                )
                elapsed = (time.perf_counter() - start) * 1000
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                if index >= 5:  # warm-up: connection pool, first searches
                    samples.append(elapsed)
                    calls += 1
            state.close()
        finally:
            fhir.stop()
    return {"repeat": calls, **median_p99(samples)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.repeat)
    print(
        f"Gap-fill (prefetch omitted, 4 keys fetched from the test FHIR server): "
        f"median {report['median_ms']:.1f} ms, p99 {report['p99_ms']:.1f} ms over {report['repeat']} calls"
    )
    if args.json:
        args.json.write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
