"""Cost of client authentication and the JSON depth check on the hook path.

    .venv/bin/python bench/bench_auth.py [--repeat 2000] [--redis-url redis://127.0.0.1:6379/15]

Prints medians (ms): JWT verification alone (ES384, RS384; keys imported once), the JSON depth check
on the reference ~190 KB request, and the whole authentication step with its replay store (the
embedded SQLite default, and Redis when given).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.requests import body_bytes
from bench.requests import observations_only
from bench.requests import patient_view
from cds_server import create_app
from cds_server.api.body import json_depth
from cds_server.auth.authenticator import CallSite
from cds_server.auth.verify import JwtPolicy
from cds_server.auth.verify import verify_client_jwt
from cds_server.state import get_state
from tests.support.clients import EHR_A
from tests.support.clients import EHR_B
from tests.support.clients import token_for
from tests.support.clients import write_clients_file

URL = "http://127.0.0.1:8000/cds-services/ascvd-risk"


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 4)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    clients = write_clients_file(folder / "clients.yaml")
    results: dict[str, float] = {}
    for store, redis_url in (("sqlite", ""), ("redis", args.redis_url)):
        if store == "redis" and not redis_url:
            continue
        app = create_app(
            {
                "database_url": f"sqlite:///{folder / f'{store}.db'}",
                "clients_file": str(clients),
                "dev_client_dir": str(folder / "dev"),
                "redis_url": redis_url,
            }
        )
        auth = get_state(app).auth
        for issuer, alg in ((EHR_A, "ES384"), (EHR_B, "RS384")):
            tokens = [token_for(URL, issuer) for _ in range(args.repeat)]
            if store == "sqlite":
                samples = []
                for token in tokens:
                    started = time.perf_counter()
                    verify_client_jwt(
                        token,
                        find_client=auth.registry.find,
                        find_key=auth.keys.find_key,
                        audience=URL,
                        now=time.time(),
                        policy=JwtPolicy(),
                    )
                    samples.append(time.perf_counter() - started)
                results[f"verify {alg}"] = median_ms(samples)
            samples = []
            site = CallSite(audience=URL, endpoint="service", request_id="bench")
            for token in tokens[: min(500, args.repeat)]:
                started = time.perf_counter()
                auth.authenticate(f"Bearer {token}", site)
                samples.append(time.perf_counter() - started)
            results[f"authenticate {alg} + replay store ({store})"] = median_ms(samples)
        get_state(app).close()
    raw = body_bytes(observations_only(patient_view(observations=200)))
    samples = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        json_depth(raw)
        samples.append(time.perf_counter() - started)
    results[f"json depth check ({len(raw) // 1024} KB body)"] = median_ms(samples)
    for name, value in results.items():
        print(f"{name:55s} {value:8.4f} ms")


if __name__ == "__main__":
    main()
