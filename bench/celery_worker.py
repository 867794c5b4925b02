"""The real Celery worker of figure 7: ``celery -A dajian worker`` (prefork, 2 children)
started and stopped by the bench, and stopped with it if the bench dies."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

WORKER_READY_S = 60


def _die_with_parent() -> None:
    """In the worker before exec: SIGTERM it when the bench dies, even killed (Linux)."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Worker:
    """``celery -A dajian worker`` (prefork, 2 children) on the bench's broker and
    database, in a session of its own so its children stop with it."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        env = {**os.environ, "DAJIAN_CELERY_EAGER": "false"}
        command = [
            sys.executable, "-m", "celery", "-A", "dajian", "worker",
            "--pool=prefork", "--concurrency=2", "--loglevel=INFO",
            "--hostname", f"dajian-bench-{os.getpid()}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=Path(__file__).resolve().parent.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + WORKER_READY_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if " ready." in self.log():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Celery worker did not become ready:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
