"""A PostgreSQL server for the integration suite and the benchmarks.

When ``DATABASE_URL`` already points at PostgreSQL that server is used as it is; otherwise
a throw-away cluster is made with the machine's ``initdb``/``pg_ctl``: trust
authentication, 127.0.0.1 on a free port, its socket inside its own temporary folder,
``fsync=off``. PostgreSQL refuses to run as root, so under root the cluster belongs to
the ``postgres`` system user, or to a ``dajian-test`` user made for the purpose.

Command line (state is kept in ``var/pgcluster.json`` between calls)::

    python -m tests.pgcluster available     # exit 0: a server can be had; 1: none (no
                                            # DATABASE_URL, no binaries); 3: DATABASE_URL
                                            # names PostgreSQL but it is not usable
    python -m tests.pgcluster start         # prints the DATABASE_URL to use
    python -m tests.pgcluster url
    python -m tests.pgcluster stop
    python -m tests.pgcluster run -- CMD... # CMD with DATABASE_URL set; cluster stopped after
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

REPO_DIR = Path(__file__).resolve().parent.parent
STATE_FILE = Path(
    os.environ.get("DAJIAN_PGCLUSTER_STATE", str(REPO_DIR / "var" / "pgcluster.json"))
)
DATABASE_NAME = "dajian"
SUPERUSER = "postgres"
FALLBACK_OS_USER = "dajian-test"


class PostgresUnavailable(RuntimeError):
    """Neither a reachable server in ``DATABASE_URL`` nor the binaries to start one."""


@dataclass
class Cluster:
    """A running throw-away cluster."""

    url: str
    data_dir: str
    bin_dir: str
    os_user: str
    port: int


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "psql"}


def configured_url() -> str | None:
    """``DATABASE_URL`` if it names a PostgreSQL server."""
    url = os.environ.get("DATABASE_URL", "")
    return url if is_postgres_url(url) else None


def find_bin_dir() -> Path | None:
    """The folder holding ``pg_ctl`` and ``initdb``: from ``PATH``, else Debian's newest."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


def check_server(url: str, timeout: float = 5) -> str:
    """Connect to ``url``; return a problem in words, or ``""`` when the server is usable
    for pytest-django (which needs to create ``test_<name>``)."""
    import psycopg

    parts = urlsplit(url)
    try:
        with psycopg.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or None,
            password=parts.password or None,
            dbname=parts.path.lstrip("/") or "postgres",
            connect_timeout=max(1, int(timeout)),
        ) as conn:
            row = conn.execute(
                "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as exc:
        return f"cannot connect: {str(exc).strip()}"
    if not row or not row[0]:
        return "the role may not CREATE DATABASE (pytest-django creates test_<name>)"
    return ""


AVAILABLE, NONE, MISCONFIGURED = 0, 1, 3


def available() -> tuple[int, str]:
    """Whether a PostgreSQL server can be had (``AVAILABLE``), none can (``NONE``), or
    ``DATABASE_URL`` names one that cannot be used (``MISCONFIGURED``); and why."""
    url = configured_url()
    if url:
        problem = check_server(url)
        if problem:
            return MISCONFIGURED, f"DATABASE_URL points at PostgreSQL, but {problem}"
        return AVAILABLE, f"server in DATABASE_URL ({_redacted(url)})"
    bin_dir = find_bin_dir()
    if bin_dir is None:
        return NONE, "no server in DATABASE_URL and no pg_ctl/initdb on this machine"
    return AVAILABLE, f"throw-away cluster with {bin_dir}"


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _os_user() -> str:
    """The user the cluster runs as: ourselves, or under root a system user."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    for name in ("postgres", FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_OS_USER,
        ],
        check=True,
    )
    return FALLBACK_OS_USER


def _run_as(user: str, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    entry = pwd.getpwnam(user)
    as_other = entry.pw_uid != os.geteuid()
    return subprocess.run(
        argv,
        user=entry.pw_uid if as_other else None,
        group=entry.pw_gid if as_other else None,
        extra_groups=[] if as_other else None,
        cwd="/",
        check=True,
        capture_output=True,
        text=True,
        **kwargs,
    )


def _describe(exc: subprocess.CalledProcessError) -> str:
    return f"{' '.join(exc.cmd)} exited {exc.returncode}:\n{exc.stdout}{exc.stderr}"


def start_cluster() -> Cluster:
    """initdb a new cluster in a temporary folder, start it and create ``dajian``."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailable("no pg_ctl/initdb on this machine")
    user = _os_user()
    entry = pwd.getpwnam(user)
    root = Path(tempfile.mkdtemp(prefix="dajian-pg-"))
    os.chown(root, entry.pw_uid, entry.pw_gid)
    data_dir = root / "data"
    port = free_port()
    try:
        _run_as(
            user,
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                # character classes of UTF-8 (collation stays C): pg_trgm then reads
                # Chinese characters as word characters, as production databases do
                "--lc-ctype=C.UTF-8",
                "--no-sync",
            ],
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "128MB",
        }
        with (data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        _run_as(
            user,
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data_dir),
                "-l",
                str(root / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    except subprocess.CalledProcessError as exc:
        log = root / "server.log"
        detail = log.read_text() if log.exists() else ""
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"{_describe(exc)}{detail}") from exc
    cluster = Cluster(
        url=f"postgres://{SUPERUSER}@127.0.0.1:{port}/{DATABASE_NAME}",
        data_dir=str(data_dir),
        bin_dir=str(bin_dir),
        os_user=user,
        port=port,
    )
    try:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user=SUPERUSER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE_NAME}")
    except Exception:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    """Stop the cluster fast and delete its folder."""
    data_dir = Path(cluster.data_dir)
    if data_dir.exists():
        try:
            _run_as(
                cluster.os_user,
                [
                    str(Path(cluster.bin_dir) / "pg_ctl"),
                    "-D",
                    str(data_dir),
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "30",
                    "stop",
                ],
            )
        except subprocess.CalledProcessError as exc:
            sys.stderr.write(f"pgcluster: {_describe(exc)}\n")
    shutil.rmtree(data_dir.parent, ignore_errors=True)


def _save(cluster: Cluster | None) -> None:
    if cluster is None:
        STATE_FILE.unlink(missing_ok=True)
        return
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps(asdict(cluster)))


def _load() -> Cluster | None:
    try:
        cluster = Cluster(**json.loads(STATE_FILE.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if not (Path(cluster.data_dir) / "postmaster.pid").exists():
        _save(None)
        return None
    return cluster


def start() -> str:
    """The URL of a usable server: ``DATABASE_URL``'s, the running throw-away cluster's,
    or a newly started one's."""
    url = configured_url()
    if url:
        problem = check_server(url)
        if problem:
            raise PostgresUnavailable(f"DATABASE_URL points at PostgreSQL, but {problem}")
        return url
    cluster = _load()
    if cluster is None:
        cluster = start_cluster()
        _save(cluster)
    return cluster.url


def stop() -> None:
    cluster = _load()
    if cluster is not None:
        stop_cluster(cluster)
    _save(None)


@contextlib.contextmanager
def server() -> Iterator[str]:
    """A PostgreSQL URL for the duration of the block; a cluster started here is stopped
    at its end, whatever happens inside."""
    url = configured_url()
    if url:
        yield start()
        return
    cluster = start_cluster()
    try:
        yield cluster.url
    finally:
        stop_cluster(cluster)


def run(argv: list[str]) -> int:
    """Run ``argv`` with ``DATABASE_URL`` set to a PostgreSQL server; its exit code."""
    with server() as url:
        child = subprocess.Popen(argv, env={**os.environ, "DATABASE_URL": url})
        # Ctrl-C reaches the child through the terminal; wait for it so the cluster is
        # stopped only once the child has let go of it.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        forward = signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        try:
            return child.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, forward)


def main(argv: list[str]) -> int:
    usage = "usage: python -m tests.pgcluster available|start|url|stop|run -- CMD..."
    if not argv:
        sys.stderr.write(usage + "\n")
        return 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "available":
            verdict, reason = available()
            sys.stdout.write(reason + "\n")
            return verdict
        if command == "start":
            sys.stdout.write(start() + "\n")
            return 0
        if command == "url":
            url = configured_url() or (cluster.url if (cluster := _load()) else "")
            if not url:
                sys.stderr.write("pgcluster: no cluster running; use `start`\n")
                return 1
            sys.stdout.write(url + "\n")
            return 0
        if command == "stop":
            stop()
            return 0
        if command == "run":
            if rest[:1] == ["--"]:
                rest = rest[1:]
            if not rest:
                sys.stderr.write(usage + "\n")
                return 2
            return run(rest)
    except PostgresUnavailable as exc:
        sys.stderr.write(f"pgcluster: PostgreSQL unavailable: {exc}\n")
        return 1
    sys.stderr.write(usage + "\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
