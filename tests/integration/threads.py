"""Real threads released together, for the concurrency tests on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.db import connections

from dajian.platform.errors import DajianError


def run_at_once(work: Callable[[int], Any], threads: int = 6) -> list[Any]:
    """``work(i)`` in ``threads`` real threads released by one barrier; each thread's
    result, or the exception it raised (any exception: a crash must show in the test)."""
    barrier = threading.Barrier(threads)
    results: list[Any] = [None] * threads

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the test reports it as a violation
            results[i] = exc
        finally:
            connections.close_all()

    pool = [threading.Thread(target=target, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def outcome(results: list[Any]) -> Counter[str]:
    """How the threads ended: the first error code, an exception's class name, or ok."""
    return Counter(
        r.errors[0].code
        if isinstance(r, DajianError)
        else type(r).__name__
        if isinstance(r, Exception)
        else "ok"
        for r in results
    )
