"""The integration suite: PostgreSQL always; Redis and a real Celery worker where asked.

The database is chosen before Django starts, by ``DATABASE_URL``: ``make test`` points
it at a reachable server or a throw-away cluster (``tests/pgcluster.py``); by hand,
``python -m tests.pgcluster run -- pytest tests/integration``. Every test collected here
is marked ``postgres``; on any other database it is skipped, or fails when ``CI=true``.

Celery tests ask for ``celery_worker_process``. The worker is another process with its
own connections to the test database, so it sees only committed rows and the test sees
its writes only once it commits: the fixture makes the test transactional (as
``django_db(transaction=True)``) and a test waits for the worker's effect by polling the
database (``wait_until``). The worker also loads the tasks defined in this module.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from celery import shared_task
from django.conf import settings

from dajian.celery import app as celery_app
from tests.pgcluster import REPO_DIR, free_port

HERE = Path(__file__).resolve().parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
NOT_POSTGRES = (
    "PostgreSQL suite: the database is not PostgreSQL; set DATABASE_URL or run "
    "`python -m tests.pgcluster run -- pytest tests/integration`"
)
WORKER_READY_SECONDS = 60
CREATE_WORKSPACE_TASK = "tests.integration.create_workspace"


@shared_task(name=CREATE_WORKSPACE_TASK)
def create_workspace(slug: str) -> None:
    """Runs in the worker: a committed row the test can wait for (no result backend)."""
    from dajian.platform.models import Workspace

    Workspace.objects.get_or_create(slug=slug, defaults={"name": slug})


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under ``CI=true`` where nothing may be skipped."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the integration suite may not be skipped)", False)
    pytest.skip(reason)


def is_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def wait_until(condition: Callable[[], Any], timeout: float = 30, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy, at most ``timeout`` seconds;
    returns that value, or the last falsy one."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.postgres)
        if "celery_worker_process" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.celery)
        if not is_postgres() and not IN_CI:
            item.add_marker(pytest.mark.skip(reason=NOT_POSTGRES))


@pytest.fixture(scope="session", autouse=True)
def _require_postgres() -> None:
    if not is_postgres():
        unavailable(NOT_POSTGRES)


def _die_with_pytest() -> None:
    """Run in a child before exec: SIGTERM it when pytest dies, even killed (Linux)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _redis_problem(url: str) -> str:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc)
    return ""


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``REDIS_URL`` if set, else a throw-away ``redis-server`` on 127.0.0.1."""
    configured = os.environ.get("REDIS_URL", "")
    if configured:
        problem = _redis_problem(configured)
        if problem:
            unavailable(f"REDIS_URL={configured} is not reachable: {problem}")
        yield configured
        return
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("Celery tests: no REDIS_URL and no redis-server on this machine")
        return
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with (folder / "redis.log").open("w") as log:
        server = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_pytest,
        )  # fmt: skip
    try:
        if not wait_until(lambda: server.poll() is not None or not _redis_problem(url), 10):
            pytest.fail(f"redis-server did not answer on {url}", False)
        if server.poll() is not None:
            pytest.fail(f"redis-server exited:\n{(folder / 'redis.log').read_text()}", False)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def database_url(settings_dict: dict[str, Any]) -> str:
    """A ``DATABASE_URL`` naming the same server and database as ``settings_dict``."""
    host = settings_dict.get("HOST") or "127.0.0.1"
    if host.startswith("/"):
        raise ValueError("a unix-socket HOST cannot be passed on as DATABASE_URL; use TCP")
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


@dataclass
class CeleryWorker:
    """A ``celery -A dajian worker`` process on the test database and broker."""

    process: subprocess.Popen[bytes]
    broker_url: str
    database_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _use_broker(url: str) -> dict[str, Any]:
    """Point this process's Celery producer at ``url``; returns what to restore.

    Settings were read before the broker existed, so the app may still hold another
    broker's connection pools; dropping them makes the next send connect to ``url``.
    """
    conf = celery_app.conf
    previous = {
        "broker_url": conf.broker_url,
        "broker_transport_options": conf.broker_transport_options,
        "task_always_eager": conf.task_always_eager,
    }
    conf.broker_url = url
    conf.broker_transport_options = {}
    conf.task_always_eager = False
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    return previous


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Warm shutdown of the worker and its pool children; killed after 20 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def start_worker(
    broker_url: str, db_url: str, log_path: Path, include: tuple[str, ...] = ()
) -> CeleryWorker:
    """A ``celery worker`` process (2 prefork children) in a session of its own, so
    ``os.killpg`` reaches its children; waits until it is ready."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dajian.settings",
        "DATABASE_URL": db_url,
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "DAJIAN_CELERY_EAGER": "false",
    }
    modules = ",".join((__name__, *include))
    command = [
        sys.executable, "-m", "celery", "-A", "dajian", "worker",
        "--loglevel=INFO", "--concurrency=2",
        "--hostname", f"dajian-test-{os.getpid()}-{log_path.parent.name}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--include", modules,
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_pytest,
        )
    worker = CeleryWorker(process, broker_url, db_url, log_path)
    ready = wait_until(
        lambda: process.poll() is not None or " ready." in worker.log(), WORKER_READY_SECONDS
    )
    if process.poll() is not None or not ready:
        _stop(process)
        pytest.fail(f"the Celery worker did not become ready:\n{worker.log()}", False)
    return worker


def _restore_broker(previous: dict[str, Any]) -> None:
    for key, value in previous.items():
        setattr(celery_app.conf, key, value)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def _celery_worker_session(
    redis_url: str, django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorker]:
    from django.db import connections

    # After django_db_setup the settings name pytest-django's test_<name> database.
    db_url = database_url(connections["default"].settings_dict)
    log_path = tmp_path_factory.mktemp("celery") / "worker.log"
    worker = start_worker(redis_url, db_url, log_path)
    try:
        yield worker
    finally:
        _stop(worker.process)


@pytest.fixture(autouse=True)
def _tasks_go_nowhere() -> Iterator[None]:
    """Tasks this process sends (after a commit) go to an in-memory broker nobody reads,
    unless the test asks for a worker (its fixture points them at that worker's Redis).
    Under CI the settings' broker is the same Redis the session worker reads: a commit
    in any transactional test would hand that worker work racing the test itself."""
    previous = _use_broker("memory://")
    try:
        yield
    finally:
        _restore_broker(previous)


@dataclass
class WorkerFactory:
    """Workers of one test on a Redis database of their own (``/1``), so the session
    worker never takes their tasks; this process sends to that database meanwhile."""

    broker_url: str
    db_url: str
    folder: Path
    include: tuple[str, ...]
    started: list[CeleryWorker]

    def start(self) -> CeleryWorker:
        log_path = self.folder / f"worker-{len(self.started)}.log"
        worker = start_worker(self.broker_url, self.db_url, log_path, self.include)
        self.started.append(worker)
        return worker

    @staticmethod
    def kill(worker: CeleryWorker) -> None:
        """SIGKILL the worker and its pool children: no warm shutdown, no acks."""
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(10)


@pytest.fixture
def worker_factory(
    transactional_db: None, redis_url: str, tmp_path: Path
) -> Iterator[WorkerFactory]:
    import redis
    from django.db import connections

    base, _, _db = redis_url.rpartition("/")
    broker_url = f"{base}/1"
    redis.Redis.from_url(broker_url).flushdb()
    db_url = database_url(connections["default"].settings_dict)
    factory = WorkerFactory(
        broker_url, db_url, tmp_path, ("tests.integration.automation_actions",), []
    )
    previous = _use_broker(broker_url)
    try:
        yield factory
    finally:
        for worker in factory.started:
            _stop(worker.process)
        _restore_broker(previous)


@pytest.fixture
def celery_worker_process(
    transactional_db: None, _celery_worker_session: CeleryWorker
) -> Iterator[CeleryWorker]:
    """A running worker (one per session) consuming this process's tasks; the test runs
    transactionally so that the worker sees what it commits. Only during such a test do
    this process's tasks go to the worker: other tests' commits must not hand it work
    that would race with them (or with the database flush after them). At the end the
    fixture waits until the worker has no outbox event left to process."""
    from dajian.runtime.models import OutboxEvent

    if _celery_worker_session.process.poll() is not None:
        pytest.fail(f"the Celery worker has died:\n{_celery_worker_session.log()}", False)
    previous = _use_broker(_celery_worker_session.broker_url)
    try:
        yield _celery_worker_session
    finally:
        _restore_broker(previous)
        wait_until(lambda: not OutboxEvent.objects.filter(processed_at__isnull=True).exists(), 20)
        time.sleep(0.3)  # the last task's transaction ends after its event is marked
