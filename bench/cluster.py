"""The benchmark's own PostgreSQL 15 cluster and Redis server, on loopback.

The cluster's data directory lives under ``var/bench/pg`` and is kept between runs, so
the 1,000,000-record data set is loaded once. Durability settings are PostgreSQL's
defaults (``fsync``, ``synchronous_commit`` and ``full_page_writes`` on): a benchmark of
a write path with them off would measure something no production server does. Only
memory and checkpoint spacing are raised, as any production configuration would.

PostgreSQL refuses to run as root, so when we are root the cluster runs as the
``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"

# Production-like, durable settings: only sizes and spacing differ from the defaults.
PG_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "shared_buffers": "512MB",
    "effective_cache_size": "8GB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "max_connections": "50",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.max": "5000",
    "pg_stat_statements.track": "all",
    "track_io_timing": "on",
    "log_min_duration_statement": "-1",
    "logging_collector": "off",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_cluster_user() -> list[str]:
    """Command prefix that runs a program as the cluster's owner."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", PG_USER, "--"]


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(PG_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class PgCluster:
    """A PostgreSQL cluster in ``root`` (data in ``root/data``), listening on ``port``."""

    root: Path
    port: int = 0

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def url(self, dbname: str) -> str:
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_as_cluster_user(), *args], check=check, capture_output=True, text=True
        )

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _chown(self.root)
        if self.initialised():
            return
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            PG_USER,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )

    def running(self) -> bool:
        return (
            self._run(
                str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "status", check=False
            ).returncode
            == 0
        )

    def start(self) -> None:
        """Start the cluster on a free port (stopping a leftover instance first)."""
        self.init()
        if self.running():
            self.stop()
        self.port = free_port()
        options = [f"-p {self.port}", f"-k {self.root}"]
        options += [f"-c {k}={v}" for k, v in PG_SETTINGS.items()]
        self.log_file.touch()
        _chown(self.log_file)
        result = self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "120",
            "start",
            check=False,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"PostgreSQL did not start:\n{result.stderr}\n{tail}")

    def stop(self) -> None:
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-m",
            "fast",
            "-w",
            "stop",
            check=False,
        )

    def version(self) -> str:
        return self._run(str(PG_BIN / "postgres"), "--version").stdout.strip()


class RedisServer:
    """A throw-away Redis on a free loopback port, without persistence."""

    def __init__(self, root: Path):
        self.root = root
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> bool:
        binary = shutil.which("redis-server")
        if binary is None:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s,
            ):
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return True
            time.sleep(0.1)
        self.stop()
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
