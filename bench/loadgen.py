"""The load generator (Debian's ``wrk`` with ``lua/bench.lua``) and CPU accounting.

wrk measures latency from sending a request to reading its whole response, on loopback:
this is what we report as p50/p99 (a client-side figure, which includes the kernel's
loopback hop, about 0.05 ms, and any queueing in gunicorn's backlog).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LUA_SCRIPT = Path(__file__).resolve().parent / "lua" / "bench.lua"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class LoadGeneratorMissing(RuntimeError):
    pass


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    socket_errors: int
    bad_status: int
    graphql_errors: int
    sample_error: str
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return self.socket_errors + self.bad_status + self.graphql_errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 2),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p90_ms": round(self.p90_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "mean_ms": round(self.mean_ms, 2),
            "socket_errors": self.socket_errors,
            "bad_status": self.bad_status,
            "graphql_errors": self.graphql_errors,
            "sample_error": self.sample_error,
            "cpu_ms_per_request": self.cpu,
        }


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadGeneratorMissing(
            "wrk is not installed: `apt-get install -y wrk` (Debian package)"
        )
    return found


def parse_wrk_output(text: str) -> WrkResult:
    """Read the ``BENCH_RESULT`` / ``BENCH_SAMPLE`` lines that ``bench.lua`` prints."""
    values: dict[str, float] = {}
    sample = ""
    for line in text.splitlines():
        if line.startswith("BENCH_RESULT "):
            for item in line.split()[1:]:
                key, _, raw = item.partition("=")
                values[key] = float(raw)
        elif line.startswith("BENCH_SAMPLE"):
            sample = line[len("BENCH_SAMPLE") :].strip()
    if "requests" not in values:
        raise RuntimeError(f"wrk printed no result:\n{text[-2000:]}")
    seconds = values["duration_us"] / 1e6
    return WrkResult(
        requests=int(values["requests"]),
        seconds=seconds,
        rps=values["requests"] / seconds if seconds else 0.0,
        p50_ms=values["p50_us"] / 1000,
        p90_ms=values["p90_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        max_ms=values["max_us"] / 1000,
        mean_ms=values["mean_us"] / 1000,
        socket_errors=int(
            values["connect_errors"]
            + values["read_errors"]
            + values["write_errors"]
            + values["timeouts"]
        ),
        bad_status=int(values["bad_status"]),
        graphql_errors=int(values["graphql_errors"]),
        sample_error=sample,
    )


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(_children(current))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` (threads included), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    total = sum(parts[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def run_wrk(
    base_url: str,
    seconds: float,
    connections: int,
    threads: int,
    *,
    bodies: list[str] | None = None,
    method: str = "POST",
    path: str = "/graphql/",
    token: str | None = None,
    cpu_groups: dict[str, int] | None = None,
) -> WrkResult:
    """Run wrk against ``base_url + path`` for ``seconds``.

    ``cpu_groups`` maps a name to a root pid (e.g. the gunicorn master, the postmaster):
    the CPU time of each tree during the run is reported per request.
    """
    binary = wrk_binary()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for body in bodies or []:
            handle.write(body.replace("\n", " ") + "\n")
        body_file = handle.name
    env = {
        **os.environ,
        "BENCH_BODIES": body_file if bodies else "",
        "BENCH_METHOD": method,
        "BENCH_PATH": path,
        "BENCH_TOKEN": token or "",
    }
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_SCRIPT),
        base_url,
    ]
    groups = {name: process_tree(pid) for name, pid in (cpu_groups or {}).items()}
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before, total_before = machine_busy_seconds()
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(body_file)
    busy_after, total_after = machine_busy_seconds()
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = parse_wrk_output(proc.stdout)
    if result.requests:
        accounted = 0.0
        for name, pids in groups.items():
            # Re-read the tree: gunicorn/PostgreSQL may have forked during the run.
            pids = sorted(set(pids) | set(process_tree(pids[0])))
            used = cpu_seconds(pids) - before[name]
            accounted += used
            result.cpu[name] = round(used * 1000 / result.requests, 3)
        wrk_used = (children_after.ru_utime + children_after.ru_stime) - (
            children_before.ru_utime + children_before.ru_stime
        )
        accounted += wrk_used
        result.cpu["wrk"] = round(wrk_used * 1000 / result.requests, 3)
        span = total_after - total_before
        busy = busy_after - busy_before
        result.cpu["machine_busy_pct"] = round(100 * busy / span, 1) if span else 0.0
        # CPU that none of the bench's processes used: other work on the machine.
        result.cpu["other_processes_pct"] = (
            round(max(0.0, 100 * (busy - accounted) / span), 1) if span else 0.0
        )
    return result


def machine_busy_pct(sample_seconds: float = 2.0) -> float:
    """How busy the whole machine is right now (percent of all cores)."""
    busy_before, total_before = machine_busy_seconds()
    time.sleep(sample_seconds)
    busy_after, total_after = machine_busy_seconds()
    span = total_after - total_before
    return 100 * (busy_after - busy_before) / span if span else 0.0


def wait_until_quiet(limit_pct: float, max_wait: float, log) -> float:  # type: ignore[no-untyped-def]
    """Wait (up to ``max_wait`` s) until other work uses under ``limit_pct`` of the
    machine; returns the last busy percentage seen."""
    deadline = time.monotonic() + max_wait
    busy = machine_busy_pct()
    if busy >= limit_pct:
        log(f"machine is {busy:.0f}% busy with other work; waiting up to {max_wait:.0f} s")
    while busy >= limit_pct and time.monotonic() < deadline:
        time.sleep(3)
        busy = machine_busy_pct()
    return busy


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s: {last}")
