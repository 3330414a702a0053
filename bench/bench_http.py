"""HTTP benchmark: the reference hook under gunicorn, real JWT verification, PostgreSQL audit.

Starts ``cds-server serve`` (2 workers by default) against a throwaway PostgreSQL database and Redis
(replay store), registers a benchmark client with an RS384 key, pre-mints one JWT per request (each
``jti`` is accepted once), then drives the service with wrk on loopback:

* sequential latency (one connection, one request at a time: how the peer was measured);
* maximum throughput (closed loop, a few connections), with zero errors required;
* fixed rates (default 100, 200, 400 req/s), p50/p99 and errors at each;
* RSS of each gunicorn worker with all reference models loaded.

    .venv/bin/python bench/bench_http.py [--duration 15] [--rates 100,200,400] [--json out.json]

Needs ``wrk`` (Debian package ``wrk``), PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ehr_client import BenchClient
from bench.requests import REFERENCE_TIME
from bench.requests import body_bytes
from bench.requests import patient_view

HERE = Path(__file__).resolve().parent
SERVICE = "ascvd-risk"
PG_ADMIN = os.environ.get("CDS_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("CDS_BENCH_REDIS", "redis://127.0.0.1:6379/14")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Database:
    """A throwaway PostgreSQL database for one run."""

    def __init__(self) -> None:
        self.name = f"cds_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')
        self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.name}"

    def drop(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Server:
    def __init__(self, workdir: Path, database_url: str, *, workers: int, threads: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.client = BenchClient()
        clients_file = self.client.write_clients_file(workdir)
        env = dict(
            os.environ,
            CDS_DATABASE_URL=database_url,
            CDS_REDIS_URL=REDIS,
            CDS_CLIENTS_FILE=str(clients_file),
            CDS_DEV_CLIENT="false",
            CDS_PUBLIC_BASE_URL=self.base,
            CDS_REFERENCE_TIME=REFERENCE_TIME,
            CDS_EMBEDDED_WORKER="false",
            CDS_LOG_LEVEL="WARNING",
        )
        self.log = (workdir / "server.log").open("wb")
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "cds-server"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--threads",
                str(threads),
            ],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server did not start; see {workdir / 'server.log'}")

    def worker_rss_mb(self) -> list[float]:
        children = subprocess.run(
            ["ps", "-o", "pid=,rss=", "--ppid", str(self.process.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        return [int(rss) / 1024 for rss in children[1::2]]

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


LUA = r"""
local tokens = {}
local index = 0
local prefix, suffix
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local connections = tonumber(os.getenv("BENCH_CONNECTIONS") or "1")

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
  local f = io.open(os.getenv("BENCH_BODY"), "rb"); local body = f:read("*a"); f:close()
  local at = string.find(body, "HOOKINSTANCE", 1, true)
  prefix = string.sub(body, 1, at - 1); suffix = string.sub(body, at + 12)
  -- each wrk thread takes its own slice of the tokens
  index = (tonumber(os.getenv("BENCH_THREAD_OFFSET") or "0"))
  math.randomseed(os.time() + index)
end

local function uuid4()
  return string.format("%08x-%04x-4%03x-%04x-%012x", math.random(0, 0xffffffff), math.random(0, 0xffff),
    math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff), math.random(0, 0xffffffffffff))
end

function request()
  index = index + 1
  local token = tokens[index]
  if token == nil then token = tokens[1] end
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, nil, prefix .. uuid4() .. suffix)
end

-- wrk asks for a delay before every request, the first on each connection too. The first ones are
-- staggered 1/rate apart: a burst of them would queue behind each other, and a connection opened but
-- silent for long holds a gunicorn thread (it waits for the request). After that, exponential pauses
-- with a mean of connections/rate: together a Poisson stream at the offered rate, as independent EHR
-- users make, never lock-step bursts.
local started = 0
function delay()
  if rate <= 0 then return 0 end
  if started < connections then
    started = started + 1
    return (started - 1) * 1000 / rate
  end
  return -math.log(1 - math.random()) * connections * 1000 / rate
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "errors_status": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_timeout": %d, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  out:close()
end
"""


def run_wrk(
    server: Server, workdir: Path, *, tokens: list[str], connections: int, duration: int, rate: int = 0
) -> dict[str, Any]:
    tokens_file = workdir / f"tokens-{uuid.uuid4().hex}.txt"
    tokens_file.write_text("\n".join(tokens))
    out = workdir / f"wrk-{uuid.uuid4().hex}.json"
    env = dict(
        os.environ,
        BENCH_TOKENS=str(tokens_file),
        BENCH_BODY=str(workdir / "body.json"),
        BENCH_OUT=str(out),
        BENCH_RATE=str(rate),
        BENCH_CONNECTIONS=str(connections),
    )
    subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "5s",
            "-s",
            str(workdir / "hook.lua"),
            f"{server.base}/cds-services/{SERVICE}",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    seconds = result["duration_us"] / 1e6
    result["throughput_rps"] = result["requests"] / seconds
    result["errors"] = sum(result[k] for k in result if k.startswith("errors_"))
    result["connections"] = connections
    result["target_rps"] = rate or None
    return result


def run(duration: int, rates: list[int], workers: int, threads: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    database = Database()
    workdir = Path(tempfile.mkdtemp(prefix="cds-bench-http-"))
    server = None
    try:
        server = Server(workdir, database.url, workers=workers, threads=threads)
        request = patient_view(keys=("patient", "observations", "conditions", "medications"))
        request["hookInstance"] = "HOOKINSTANCE"
        (workdir / "body.json").write_bytes(orjson.dumps(request))
        (workdir / "hook.lua").write_text(LUA)
        audience = f"{server.base}/cds-services/{SERVICE}"
        # one token per request: the slowest run is the max-throughput one
        budget = 1500 * duration + sum(rates) * duration + 2000
        tokens = server.client.mint(audience, budget)
        cursor = 0

        def take(count: int) -> list[str]:
            nonlocal cursor
            part = tokens[cursor : cursor + count]
            cursor += count
            return part

        # warm-up: every worker loads, first queries planned
        run_wrk(server, workdir, tokens=take(400), connections=4, duration=2)
        results: dict[str, Any] = {"bytes": len(body_bytes(request)), "workers": workers, "threads": threads}
        # one connection, one request at a time: the peer's "sequential" figure, over HTTP
        results["sequential"] = run_wrk(
            server, workdir, tokens=take(300 * duration), connections=1, duration=duration
        )
        results["max_throughput"] = run_wrk(
            server, workdir, tokens=take(1200 * duration), connections=8, duration=duration
        )
        # Fixed rates: each connection pauses connections/rate on average (exponentially distributed)
        # between its requests, so a connection's cycle is that pause plus the latency; with half a
        # second of pause the latency (tens of ms) costs the offered rate only a few percent: an
        # open-loop Poisson load, close enough, from wrk.
        results["fixed_rates"] = [
            run_wrk(
                server,
                workdir,
                tokens=take(rate * duration + 500),
                connections=max(8, rate // 2),
                duration=duration,
                rate=rate,
            )
            for rate in rates
        ]
        results["worker_rss_mb"] = server.worker_rss_mb()
        return results
    finally:
        if server is not None:
            server.stop()
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)


def print_report(report: dict[str, Any]) -> None:
    print(
        f"HTTP, gunicorn {report['workers']} workers x {report['threads']} threads, RS384 JWT + Redis replay store, "
        f"PostgreSQL audit, {report['bytes']} byte request"
    )
    one = report["sequential"]
    print(
        f"  sequential (1 connection): {one['throughput_rps']:.0f} req/s, p50 {one['p50_ms']:.1f} ms, "
        f"p99 {one['p99_ms']:.1f} ms, errors {one['errors']}"
    )
    peak = report["max_throughput"]
    print(
        f"  max throughput: {peak['throughput_rps']:.0f} req/s (c={peak['connections']}), "
        f"p50 {peak['p50_ms']:.1f} ms, p99 {peak['p99_ms']:.1f} ms, errors {peak['errors']}"
    )
    for row in report["fixed_rates"]:
        print(
            f"  at {row['target_rps']} req/s: achieved {row['throughput_rps']:.0f}, p50 {row['p50_ms']:.1f} ms, "
            f"p99 {row['p99_ms']:.1f} ms, errors {row['errors']}"
        )
    print(f"  worker RSS: {', '.join(f'{mb:.0f} MB' for mb in report['worker_rss_mb'])}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--rates", default="100,200,400")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.duration, [int(r) for r in args.rates.split(",")], args.workers, args.threads)
    print_report(report)
    if args.json:
        args.json.write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
