"""CPU used by the bench's processes during a measurement, and the guards against
other work on the machine.

``CpuWindow`` samples every process in /proc once a second and attributes the CPU used
between ``start()`` and ``stop()`` to this process, to the process trees it is given
(PostgreSQL, the Celery worker, Redis) and to everything else. ``_quiet`` waits for a
quiet machine before a measurement; ``_flag_other`` reports one that shared the machine
with too much other work.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import loadgen


def _all_cpu() -> dict[int, tuple[str, float, int]]:
    """pid → (command, user + system CPU seconds, parent pid) of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                head, _, tail = (entry / "stat").read_text().rpartition(")")
            except OSError:
                continue
            fields = tail.split()
            seconds = (int(fields[11]) + int(fields[12])) / loadgen.CLOCK_TICKS
            out[int(entry.name)] = (head.partition("(")[2], seconds, int(fields[1]))
    return out


class CpuWindow:
    """CPU used between ``start()`` and ``stop()`` by this process and by the process
    trees of ``groups`` (name → root pid), and what else used the machine.

    Every process is sampled once a second, so a process that ends inside the window
    (a thread's database backend) still counts, up to its last sample; what lives
    shorter than that (a connection per task) shows as other work."""

    def __init__(self, groups: dict[str, int]):
        self.roots = {pid: name for name, pid in groups.items() if pid}

    def start(self) -> CpuWindow:
        self.own = time.process_time()
        self.machine = loadgen.machine_busy_seconds()
        self.first = _all_cpu()
        self.last = dict(self.first)
        self.done = threading.Event()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(1.0):
            self.last.update(_all_cpu())

    def _group(self, pid: int) -> str | None:
        for _ in range(64):  # up the parent chain to a root
            if pid in self.roots:
                return self.roots[pid]
            if pid not in self.last or pid <= 1:
                return None
            pid = self.last[pid][2]
        return None

    def stop(self, units: int) -> dict[str, Any]:
        own = time.process_time() - self.own
        self.done.set()
        self.sampler.join()
        self.last.update(_all_cpu())
        busy_after, total_after = loadgen.machine_busy_seconds()
        span = total_after - self.machine[1]
        busy = busy_after - self.machine[0]
        used = {"bench process": own, **dict.fromkeys(self.roots.values(), 0.0)}
        others = []
        for pid, (command, seconds, _) in self.last.items():
            spent = seconds - self.first.get(pid, (command, 0.0, 0))[1]
            if pid == os.getpid() or spent <= 0:
                continue
            group = self._group(pid)
            if group is None:
                others.append((spent, f"{pid} {command}"))
            else:
                used[group] += spent
        other = sum(spent for spent, _ in others)
        # what no sampled process used: processes shorter than a sample, kernel work
        used["unattributed"] = max(0.0, busy - sum(used.values()) - other)
        out: dict[str, Any] = {
            f"{name} ms/unit": round(s * 1000 / units, 3) for name, s in used.items()
        }
        out["machine_busy_pct"] = round(100 * busy / span, 1) if span else 0.0
        out["other_processes_pct"] = round(100 * other / span, 1) if span else 0.0
        out["unattributed_pct"] = round(100 * used["unattributed"] / span, 1) if span else 0.0
        out["top_other_processes_pct"] = {
            name: round(100 * spent / span, 1) for spent, name in sorted(others, reverse=True)[:4]
        }
        return out


def _quiet(ctx: dict[str, Any], report: Any, kit: Any, what: str) -> None:
    busy = loadgen.wait_until_quiet(kit.QUIET_LIMIT_PCT, ctx["cfg"].quiet_wait, kit.log)
    if busy >= kit.QUIET_LIMIT_PCT:
        report.problems.append(f"{what}: the machine was {busy:.0f}% busy with other work before")


def _flag_other(report: Any, kit: Any, what: str, cpu: dict[str, float]) -> None:
    if cpu.get("other_processes_pct", 0.0) > kit.OTHER_LIMIT_PCT:
        report.problems.append(
            f"{what}: {cpu['other_processes_pct']:.0f}% of the machine's CPU went to processes "
            "outside the bench during the run; this figure is not reliable"
        )
