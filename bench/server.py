"""The server under test: gunicorn with 2 workers on 127.0.0.1, production settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from cluster import free_port
from loadgen import wait_for_http

ROOT = Path(__file__).resolve().parent.parent


class Gunicorn:
    """``gunicorn dajian.wsgi:application`` with ``workers`` processes."""

    def __init__(
        self, env: dict[str, str], workers: int, worker_class: str, threads: int, log: Path
    ):
        self.env = env
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.log = log
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def describe(self) -> str:
        extra = f", {self.threads} threads each" if self.worker_class == "gthread" else ""
        return f"gunicorn {self.workers} {self.worker_class} workers{extra}"

    def start(self) -> None:
        self.port = free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        argv = [
            str(gunicorn) if gunicorn.exists() else "gunicorn",
            "dajian.wsgi:application",
            "--workers",
            str(self.workers),
            "--worker-class",
            self.worker_class,
            "--bind",
            f"127.0.0.1:{self.port}",
            "--backlog",
            "256",
            "--timeout",
            "60",
            "--keep-alive",
            "5",
            "--log-level",
            "warning",
        ]
        if self.worker_class == "gthread":
            argv += ["--threads", str(self.threads)]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )
        try:
            wait_for_http(f"{self.base_url}/healthz", timeout=60)
        except RuntimeError:
            self.stop()
            raise RuntimeError(
                f"gunicorn did not come up; its log ({self.log}):\n"
                + self.log.read_text(errors="replace")[-3000:]
            ) from None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
