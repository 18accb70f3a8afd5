"""Real Cairn servers for end-to-end and browser tests: gunicorn processes on 127.0.0.1.

Each server gets its own freshly migrated database (SQLite file or PostgreSQL database, whichever
this run tests) and commits for real, unlike the savepoint-wrapped ``app`` fixture.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveCairn:
    """A running Cairn: its URL, database URL and process (restartable, e.g. to test outages)."""

    database_url: str
    port: int
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update({"CAIRN_DATABASE_URL": self.database_url, "CAIRN_SECRET_KEY": "live-test-secret",
                    "CAIRN_BASE_URL": self.url, "CAIRN_ENV": "development", "CAIRN_LOG_LEVEL": "WARNING"})
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``cairn ARGS`` against this server's database."""
        return subprocess.run([sys.executable, "-c", "from cairn.cli import main; main()", *args],
                              env=self.env(), cwd=ROOT, capture_output=True, text=True, check=check)

    def start(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [gunicorn, "--workers", str(self.workers), "--bind", f"127.0.0.1:{self.port}",
             "--graceful-timeout", "2", "cairn:create_app()"],
            env=self.env(), cwd=ROOT, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Cairn exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("Cairn did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


@contextmanager
def live_cairn(tmp_dir: Path, name: str, workers: int = 2, **extra_env: str) -> Iterator[LiveCairn]:
    """Start a Cairn on a new, migrated database named ``name``; stop it afterwards."""
    from tests.conftest import fresh_database_url, reset_database
    url = fresh_database_url(tmp_dir, name)
    reset_database(url).dispose()
    server = LiveCairn(database_url=url, port=free_port(), workers=workers, extra_env=dict(extra_env),
                       log_path=tmp_dir / f"{name}.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
