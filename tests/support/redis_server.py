"""A redis-server of the test's own on a free loopback port: it may be stopped, killed and restarted
(never the shared Redis on 6379), and scanned for what it holds."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import BinaryIO

import redis

from tests.support.fhir_server import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


class RedisServer:
    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None
        self.start()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._close_log()
        self._log = log = (self.workdir / "redis.log").open("ab")
        self._process = subprocess.Popen(
            # no persistence: a restart loses everything, the harshest broker restart
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self._wait(self.ping, "did not start")

    def ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
        self._close_log()
        self._wait(lambda: not self.ping(), "did not stop")

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def keys(self) -> list[str]:
        """Every key, as ``redis-cli --scan`` lists them."""
        out = subprocess.run(
            [REDIS_CLI, "-p", str(self.port), "--scan"], capture_output=True, check=True, timeout=10
        ).stdout.decode()
        return [line for line in out.splitlines() if line]

    def dump(self) -> bytes:
        """Every key and every value (strings, lists, hashes, sets, sorted sets) as one byte string."""
        client = redis.Redis(port=self.port)
        parts: list[bytes] = []
        for key in self.keys():
            parts.append(key.encode())
            kind = client.type(key)
            if kind == b"string":
                parts.append(client.get(key) or b"")
            elif kind == b"list":
                parts.extend(client.lrange(key, 0, -1))
            elif kind == b"hash":
                for field, value in client.hgetall(key).items():
                    parts.extend((field, value))
            elif kind == b"set":
                parts.extend(client.smembers(key))
            elif kind == b"zset":
                parts.extend(member for member, _ in client.zrange(key, 0, -1, withscores=True))
        return b"\n".join(parts)

    def _wait(self, condition: object, problem: str, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():  # type: ignore[operator]
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} {problem}")
