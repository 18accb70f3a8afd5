"""Databases and real Cairn servers (gunicorn on 127.0.0.1) for the benchmark runs and the live tests.

Deliberately independent of ``tests/``: the benchmark must run from an installed package, and the
tests' live servers (``tests/live.py``) are this module's ``Server``.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from cairn import migrate, serving
from cairn.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/cairn_bench"
# Each run's PostgreSQL databases carry its process id, so two runs never drop each other's.
RUN_TAG = f"p{os.getpid()}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_available(url: str) -> bool:
    try:
        engine = make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not available", reported by the caller
        return False


def fresh_database(kind: str, name: str, workdir: Path, postgres_url: str) -> str:
    """Create an empty database ``name`` of ``kind`` and migrate it to head; return its URL."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path.as_posix()}"
    else:
        base = make_url(postgres_url)
        database = f"{base.database}_{RUN_TAG}_{name}"
        admin = make_engine(base.set(database="postgres").render_as_string(hide_password=False),
                            isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        url = base.set(database=database).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def clone_database(template_url: str, name: str, workdir: Path) -> str:
    """A copy of the database at ``template_url`` named ``name`` (the template must be idle)."""
    if template_url.startswith("sqlite"):
        import shutil
        source = Path(template_url.removeprefix("sqlite:///"))
        import sqlite3
        connection = sqlite3.connect(source)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.close()
        target = workdir / f"{name}.db"
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return f"sqlite:///{target.as_posix()}"
    base = make_url(template_url)
    database = f"{base.database.rsplit('_', 1)[0]}_{name}"
    admin = make_engine(base.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}" TEMPLATE "{base.database}"'))
    admin.dispose()
    return base.set(database=database).render_as_string(hide_password=False)


def checkpoint(url: str) -> None:
    """Write every change so far to the data files (PostgreSQL CHECKPOINT, SQLite's WAL checkpoint).

    Before each measured run of the store and of the limit: otherwise whichever run a timed
    checkpoint (or a full WAL) happened to fall in paid for it, and the ratio between two runs of
    the same writes swung by a fifth from one full run to the next. Needs a superuser or the
    pg_checkpoint role on PostgreSQL; without either the run goes on and says so on stderr.
    """
    if url.startswith("sqlite"):
        import sqlite3
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        return
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
    except Exception as exc:  # noqa: BLE001 - a user without the right to checkpoint still gets a run
        print(f"checkpoint skipped ({type(exc).__name__}): runs may pay for earlier writes", file=sys.stderr)
    finally:
        engine.dispose()


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def engine_for(url: str) -> Engine:
    return make_engine(url)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds each live process has used so far (Linux ``/proc/<pid>/stat``)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return used


def postgres_pids() -> list[int]:
    """The processes of the PostgreSQL server on this host (its backends and background workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def is_local_postgres(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "postgresql" and parsed.host in (None, "", "127.0.0.1", "localhost")


class CpuMeter:
    """CPU seconds used inside a ``with`` block by some processes and by the local PostgreSQL.

    ``pids``: the processes to watch (a server's workers); ``own``: add this process's own CPU (a
    driver's threads). PostgreSQL's share is every ``postgres`` process of this host (a backend that
    exits in between takes its time with it; one started in between counts whole): so it is
    measured only for a database on 127.0.0.1.
    """

    def __init__(self, pids: list[int], *, database_url: str, own: bool = False) -> None:
        self.pids, self.own = pids, own
        self.database = is_local_postgres(database_url)
        self.watched = self.database_seconds = 0.0

    def __enter__(self) -> CpuMeter:
        self._watched = cpu_seconds(self.pids)
        self._own = time.process_time()
        self._database = cpu_seconds(postgres_pids()) if self.database else {}
        return self

    def __exit__(self, *exc: object) -> None:
        now = cpu_seconds(self.pids)
        self.watched = sum(now[p] - self._watched[p] for p in now if p in self._watched)
        if self.own:
            self.watched += time.process_time() - self._own
        if self.database:
            now = cpu_seconds(postgres_pids())
            self.database_seconds = sum(now[p] - self._database.get(p, 0.0) for p in now)


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Server:
    """A gunicorn-served Cairn on one database."""

    database_url: str
    workers: int = 2
    log_path: Path | None = None
    app: str = "cairn:create_app()"
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    secret_key: str = "benchmark-secret"
    start_seconds: float = 60
    # The checkout whose code it serves (``benchmarks.compare`` serves another commit's worktree too).
    root: Path = ROOT
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        env.update({"CAIRN_DATABASE_URL": self.database_url, "CAIRN_SECRET_KEY": self.secret_key,
                    "CAIRN_BASE_URL": self.url, "CAIRN_LOG_LEVEL": "WARNING",
                    # development only lets the session cookie travel over plain HTTP (no TLS here)
                    "CAIRN_ENV": "development"})
        # Its own packages first: this venv's editable install points at ROOT, and another tree
        # (``benchmarks.compare``) must win over it; ROOT gets the same, so both start alike.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self.root), env.get("PYTHONPATH")) if p)
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``cairn ARGS`` against this server's database."""
        return subprocess.run([sys.executable, "-c", "from cairn.cli import main; main()", *args],
                              env=self.env(), cwd=self.root, capture_output=True, text=True, check=check)

    def start(self) -> None:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [gunicorn, "--config", serving.CONFIG, "--workers", str(self.workers),
             "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "--timeout", "120",
             "--backlog", "256", self.app],
            env=self.env(), cwd=self.root, stdout=log, stderr=log)
        deadline = time.monotonic() + self.start_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Cairn exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200 and \
                        len(self.worker_pids()) >= self.workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Cairn did not start within {self.start_seconds:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def reset_peak_rss(self) -> None:
        """Start a new peak-RSS window for every worker (Linux: ``echo 5 > clear_refs``)."""
        for pid in self.worker_pids():
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass

    def peak_rss_mb(self) -> float:
        """The largest peak resident set of any worker since the last reset, in MB."""
        peaks = [_status_kb(pid, "VmHWM") for pid in self.worker_pids()]
        return round(max(peaks, default=0) / 1024, 1)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def create_credentials(server: Server) -> dict[str, str] | None:
    """An all-scopes xAPI credential from ``cairn credentials create``, or None if absent."""
    done = server.cli("credentials", "create", "--name", "benchmark", "--scopes", "all", "--json",
                      check=False)
    if done.returncode != 0 and "No such option" in done.stderr:
        done = server.cli("credentials", "create", "--scopes", "all", "--json", check=False)
    if done.returncode != 0:
        if "No such command" in done.stderr:
            return None
        raise RuntimeError(f"cairn credentials create failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


class Profiler:
    """``py-spy record`` on every worker of ``server`` while the block runs (collapsed stacks)."""

    def __init__(self, server: Server, out_prefix: Path) -> None:
        self.server, self.out_prefix = server, out_prefix
        self.processes: list[subprocess.Popen[bytes]] = []
        self.outputs: list[Path] = []

    def __enter__(self) -> Profiler:
        import shutil
        # Its directory may not exist yet: a run given --output elsewhere writes nothing else there.
        self.out_prefix.parent.mkdir(parents=True, exist_ok=True)
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(py_spy).exists():
            print("profiling skipped: py-spy is not installed (pip install py-spy)", file=sys.stderr)
            return self
        for pid in self.server.worker_pids():
            out = Path(f"{self.out_prefix}-{pid}.txt")
            self.outputs.append(out)
            self.processes.append(subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--nonblocking",
                 "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)  # let py-spy attach before the load starts
        return self

    def __exit__(self, *exc: object) -> None:
        import signal
        for process in self.processes:
            process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
