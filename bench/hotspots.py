"""Where a request's time goes: each figure's operation run in-process through Django's
full stack (middleware, token auth, GraphQL view) under cProfile.

This is evidence for the slow paths a figure shows, not a figure itself: cProfile slows
Python code down about 1.5-2x, so only the proportions matter.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import time
from pathlib import Path
from typing import Any


def write_profile(profiler: cProfile.Profile, out_file: Path, header: str, top: int) -> Any:
    """Write ``header`` and the profile's top functions, by cumulative and by own time,
    to ``out_file``; returns the ``pstats.Stats``."""
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    text.write(header)
    text.write("=== by cumulative time ===\n")
    stats.sort_stats("cumulative").print_stats(top)
    text.write("=== by own time ===\n")
    stats.sort_stats("tottime").print_stats(top)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text.getvalue())
    return stats


def profile_operation(
    token: str, body: str, runs: int, out_file: Path, top: int = 30
) -> dict[str, Any]:
    """Run ``body`` (a GraphQL POST body; ``__N__`` replaced by a counter) ``runs`` times
    and write the profile, by cumulative and by own time, to ``out_file``."""
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {token}")
    for i in range(5):  # warm caches (definitions, parsed documents)
        client.post("/graphql/", body.replace("__N__", f"w{i}"), content_type="application/json")
    # CPU time, not wall time: waiting for PostgreSQL (seen in pg_stat_statements) and
    # other work on the machine would otherwise drown the Python hot spots.
    profiler = cProfile.Profile(time.process_time)
    started, cpu_started = time.perf_counter(), time.process_time()
    profiler.enable()
    for i in range(runs):
        response = client.post(
            "/graphql/", body.replace("__N__", f"p{i}"), content_type="application/json"
        )
    profiler.disable()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    last = json.loads(response.content)
    stats = write_profile(
        profiler,
        out_file,
        f"{runs} requests under cProfile (CPU-time profile): {elapsed * 1000 / runs:.2f} ms "
        f"wall, {cpu * 1000 / runs:.2f} ms CPU of this process each\n\n",
        top,
    )

    own = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        own.append((tottime, cumtime, calls, f"{_short(filename)}:{line}({name})"))
    # Own time of our code's callers is spread thin; the cumulative view names them.
    ours = sorted(
        (
            (cumtime, calls, f"{_short(filename)}:{line}({name})")
            for (filename, line, name), (_, calls, _, cumtime, _) in stats.stats.items()  # type: ignore[attr-defined]
            if "/dajian/" in filename
        ),
        reverse=True,
    )
    own.sort(reverse=True)
    return {
        "ms_per_request_profiled": round(elapsed * 1000 / runs, 2),
        "cpu_ms_per_request_profiled": round(cpu * 1000 / runs, 2),
        "errors_in_last_response": bool(last.get("errors")),
        "top_own_time": [
            {
                "function": where,
                "own_ms_per_request": round(tot * 1000 / runs, 3),
                "cumulative_ms_per_request": round(cum * 1000 / runs, 3),
                "calls_per_request": round(calls / runs, 1),
            }
            for tot, cum, calls, where in own[:12]
        ],
        "top_dajian_cumulative": [
            {
                "function": where,
                "cumulative_ms_per_request": round(cum * 1000 / runs, 3),
                "calls_per_request": round(calls / runs, 1),
            }
            for cum, calls, where in ours[:12]
        ],
        "file": str(out_file),
    }


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/work/main/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename
