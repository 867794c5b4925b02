"""Raw psycopg baselines, measured in the same run as the figures.

- single-row INSERTs of ~1 KB JSON into ``runtime_record`` (one row per transaction,
  2-4 connections): what the database alone can do on this machine;
- the list query's own SQL (as the runtime generates it), with and without the
  composite index;
- the form render's SQL (the form and its published definition).
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb


@dataclass
class Timing:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float = 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "seconds": round(self.seconds, 2),
            "rate": round(self.rate, 1),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "max_ms": round(self.max_ms, 3),
        }


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _timing(latencies: list[float], seconds: float) -> Timing:
    return Timing(
        count=len(latencies),
        seconds=seconds,
        p50_ms=_percentile(latencies, 50) * 1000,
        p99_ms=_percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=0.0) * 1000,
    )


INSERT_SQL = (
    "INSERT INTO runtime_record (workspace_id, form_id, form_version_id, stage, status, "
    "owner_id, created_by_id, updated_by_id, created_at, updated_at, version, data, flags, "
    "idempotency_key) VALUES (%s, %s, %s, NULL, 'active', %s, %s, %s, %s, %s, 1, %s, "
    "'[]'::jsonb, NULL)"
)


def insert_rate(
    db_url: str, seconds: float, connections: int, rows: list[dict[str, Any]], ids: dict[str, int]
) -> Timing:
    """Single-row INSERT, autocommit (one transaction each), on ``connections`` threads."""
    latencies: list[list[float]] = [[] for _ in range(connections)]
    stop = threading.Event()
    ready = threading.Barrier(connections + 1)

    def worker(n: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            cur = conn.cursor()
            own = latencies[n]
            i = n
            ready.wait()
            while not stop.is_set():
                now = datetime.now(UTC)
                params = (
                    ids["workspace"],
                    ids["form"],
                    ids["version"],
                    ids["user"],
                    ids["user"],
                    ids["user"],
                    now,
                    now,
                    Jsonb(rows[i % len(rows)]),
                )
                t = time.perf_counter()
                cur.execute(INSERT_SQL, params, prepare=True)
                own.append(time.perf_counter() - t)
                i += connections

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    ready.wait()
    started = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return _timing([x for own in latencies for x in own], elapsed)


Query = tuple[str, Any]  # (sql, params); params None = the SQL is complete as it is


def query_timing(queries: list[Query], db_url: str, *, seconds: float = 3.0) -> Timing:
    """Run ``queries`` in turn, sequentially on one connection, for ``seconds`` (after one
    warm-up pass)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        cur = conn.cursor()
        for sql, params in queries:
            cur.execute(sql, params)
            cur.fetchall()
        latencies: list[float] = []
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            sql, params = queries[len(latencies) % len(queries)]
            t = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            latencies.append(time.perf_counter() - t)
        return _timing(latencies, time.perf_counter() - started)


def query_timing_without_index(queries: list[Query], db_url: str, index: str) -> Timing:
    """Each query run once with ``index`` dropped inside a transaction that is rolled back
    (DDL is transactional in PostgreSQL, so the index is never really gone). Holds an
    exclusive lock on the table meanwhile: only call it while nothing else runs."""
    with psycopg.connect(db_url) as conn:
        cur = conn.cursor()
        cur.execute(f'DROP INDEX "{index}"')
        latencies = []
        started = time.perf_counter()
        for sql, params in queries:
            t = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
        conn.rollback()
    return _timing(latencies, elapsed)


def result_bytes(db_url: str, sql: str, params: Any) -> int:
    """Size of the rows ``sql`` returns, as PostgreSQL stores them."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM ({sql}) t", params
        ).fetchone()
    return int(row[0]) if row else 0


def explain(db_url: str, sql: str, params: Any, drop_index: str | None = None) -> list[str]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` lines of ``sql`` (optionally without an index)."""
    with psycopg.connect(db_url) as conn:
        cur = conn.cursor()
        if drop_index:
            cur.execute(f'DROP INDEX "{drop_index}"')
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        lines = [row[0] for row in cur.fetchall()]
        conn.rollback()
    return lines


def used_indexes(plan: list[str]) -> list[str]:
    found = []
    for line in plan:
        if " using " in line:
            found.append(line.split(" using ", 1)[1].split()[0])
    return found


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
