"""Figure 7: record-triggered automations with a real worker (issue 4).

Figure 7 (``events``) starts a real Celery worker (prefork, concurrency 2) on the
bench's Redis and PostgreSQL, creates deals through ``create_record`` from this process
(several threads) and measures, from the first create to the last outbox event
processed, events per second end to end: once with no automation (only the outbox
hand-off: the baseline), then with a published ``record_created`` automation (condition
``amount >= 500000.0``, about half of the deals; notify the owner).

It leaves the data as it found it: the records, outbox events, runs, executions and
notifications it wrote are deleted and the automation unpublished.
"""

from __future__ import annotations

import os
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import forms as bench_forms
import psycopg
from automation_common import (
    EVENTS_KEY,
    EVENTS_TARGET,
    EVENTS_THRESHOLD,
    PROFILE_EVENTS,
    _profile,
    _publish,
    _source,
    _tables,
    _unpublish,
    events_definition,
)
from celery_worker import Worker
from cpu_accounting import CpuWindow, _flag_other, _quiet


def _redis_pid() -> int:
    """The bench's redis-server (its CPU is the bench's, not other work's)."""
    port = os.environ.get("CELERY_BROKER_URL", "").rsplit(":", 1)[-1].split("/")[0]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        # redis-server rewrites its title to "redis-server 127.0.0.1:<port>"
        if b"redis-server" in command[:64] and port.encode() in command:
            return int(entry.name)
    return 0


def _deals(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [bench_forms.deal_data(rng) for _ in range(count)]


def _create_all(ctx: dict[str, Any], deals: list[dict[str, Any]], threads: int) -> float:
    """Create ``deals`` through ``create_record`` on ``threads`` threads; returns the
    perf_counter time when the last create returned."""
    from django.db import connection

    from dajian.runtime.services.records import create_record

    actor, app_key = ctx["actor"], ctx["ds"].app_key
    errors: list[BaseException] = []
    done: list[float] = []

    def produce(part: list[dict[str, Any]]) -> None:
        try:
            for data in part:
                create_record(actor, app_key, bench_forms.DEAL_FORM, data)
        except BaseException as exc:  # noqa: BLE001 - reported by the figure
            errors.append(exc)
        finally:
            done.append(time.perf_counter())
            connection.close()

    workers = [threading.Thread(target=produce, args=(deals[i::threads],)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if errors:
        raise RuntimeError(f"create_record failed: {errors[0]!r}")
    return max(done)


def _outbox_marker(db_url: str) -> int:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT coalesce(max(id), 0) FROM {_tables()['outbox']}").fetchone()
    return int(row[0])


def _wait_processed(db_url: str, marker: int, count: int, timeout: float) -> dict[str, Any]:
    """Poll until ``count`` events past ``marker`` exist and all are processed; returns
    how many there are, how many are pending and when the first and last were processed
    (epoch seconds)."""
    outbox = _tables()["outbox"]
    deadline = time.monotonic() + timeout
    with psycopg.connect(db_url, autocommit=True) as conn:
        while True:
            events, pending, first, last = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE processed_at IS NULL), "
                f"min(processed_at), max(processed_at) FROM {outbox} WHERE id > %s",
                (marker,),
            ).fetchone()
            if (events >= count and pending == 0) or time.monotonic() > deadline:
                return {
                    "events": events,
                    "pending": pending,
                    "first": first.timestamp() if first else 0.0,
                    "last": last.timestamp() if last else 0.0,
                }
            time.sleep(0.02)


def _sessions(db_url: str) -> int:
    """Connections ever opened to the database (PostgreSQL counts them)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0])


def _check_all_processed(
    kit: Any, what: str, seen: dict[str, Any], count: int, worker: Worker
) -> None:
    if seen["pending"] or seen["events"] < count:
        raise kit.FigureFailed(
            f"{what}: {seen['events']} events, {seen['pending']} not processed after the "
            f"wait; worker log:\n{worker.log()[-2000:]}"
        )


def _phase(
    ctx: dict[str, Any],
    report: Any,
    kit: Any,
    worker: Worker,
    deals: list[dict[str, Any]],
    what: str,
) -> dict[str, Any]:
    """Create ``deals`` with the worker running; time first create → last event processed."""
    db_url, threads = ctx["db_url"], int(os.environ.get("BENCH_EVENT_THREADS", "2"))
    _quiet(ctx, report, kit, what)
    marker = _outbox_marker(db_url)
    kit.reset_statements(db_url)
    groups = {"postgres": ctx["pg_pid"], "celery worker": worker.pid, "redis": _redis_pid()}
    window = CpuWindow(groups).start()
    sessions = _sessions(db_url)
    t0_epoch, t0 = time.time(), time.perf_counter()
    created_at = _create_all(ctx, deals, threads)
    seen = _wait_processed(db_url, marker, len(deals), 120 + len(deals) / 10)
    cpu = window.stop(len(deals))
    time.sleep(1)  # backends report their session statistics at exit
    sessions = _sessions(db_url) - sessions
    _check_all_processed(kit, what, seen, len(deals), worker)
    if "warm-up" not in what:
        _flag_other(report, kit, what, cpu)
    seconds, create_seconds = seen["last"] - t0_epoch, created_at - t0
    result = {
        "events": seen["events"],
        "seconds": round(seconds, 3),
        "events_per_s": round(len(deals) / seconds, 1) if seconds > 0 else None,
        "create_seconds": round(create_seconds, 3),
        "creates_per_s": round(len(deals) / create_seconds, 1),
        "drain_after_last_create_s": round(seconds - create_seconds, 3),
        "producer_threads": threads,
        "postgres_sessions_per_event": round(sessions / len(deals), 3),
        "cpu_per_event": cpu,
        "postgres": kit.statement_stats(db_url, len(deals)),
        "outbox_marker": marker,
    }
    kit.log(
        f"  {what}: {len(deals):,} events in {seconds:.2f} s = {result['events_per_s']} events/s "
        f"(creates {result['creates_per_s']}/s, drained {result['drain_after_last_create_s']} s "
        "after the last create)"
    )
    return result


def _worker_alone(
    ctx: dict[str, Any], report: Any, kit: Any, worker: Worker, deals: list[dict[str, Any]]
) -> dict[str, Any]:
    """The worker's own capacity: the deals' events are queued while it is stopped, then
    it drains them (first to last processing, so its start-up does not count)."""
    db_url = ctx["db_url"]
    worker.stop()
    marker = _outbox_marker(db_url)
    _create_all(ctx, deals, 2)
    _quiet(ctx, report, kit, "figure 7 (worker alone)")
    worker.start()
    seen = _wait_processed(db_url, marker, len(deals), 120 + len(deals) / 10)
    _check_all_processed(kit, "figure 7 (worker alone)", seen, len(deals), worker)
    seconds = seen["last"] - seen["first"]
    rate = round((len(deals) - 1) / seconds, 1) if seconds > 0 else None
    kit.log(f"  figure 7 worker alone: {len(deals):,} queued events drained at {rate} events/s")
    return {"events": len(deals), "seconds": round(seconds, 3), "events_per_s": rate}


def _in_process(
    ctx: dict[str, Any], kit: Any, report: Any, seed: int, profile_to: Path | None = None
) -> dict[str, Any]:
    """``process_outbox_event`` run in this process (no Celery) on the events of
    PROFILE_EVENTS new deals: CPU per event, or a cProfile of it. The worker is stopped;
    the messages their commits queued are dropped with Redis."""
    from dajian.runtime import tasks

    db_url = ctx["db_url"]
    marker = _outbox_marker(db_url)
    _create_all(ctx, _deals(PROFILE_EVENTS, seed=seed), 1)
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                f"SELECT id FROM {_tables()['outbox']} WHERE id > %s ORDER BY id", (marker,)
            )
        ]

    def work() -> None:
        for event_id in ids:
            tasks.process_outbox_event(event_id)

    if profile_to is not None:
        kit.log(f"profiling {len(ids)} outbox events in-process (cProfile)")
        try:
            return _profile(work, profile_to, len(ids), "event")
        except Exception as exc:  # noqa: BLE001 - evidence only; never fails the figure
            report.problems.append(f"profiling the events failed: {exc!r}")
            return {}
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "events": len(ids),
        "cpu_ms_per_event": round(cpu * 1000 / len(ids), 3),
        "wall_ms_per_event": round(wall * 1000 / len(ids), 3),
    }


def figure_events(ctx: dict[str, Any], report: Any, kit: Any) -> None:
    import redis

    from dajian.runtime.models import AutomationRun

    cfg = ctx["cfg"]
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        raise kit.FigureFailed("needs Redis as the broker (redis-server is missing)")
    count = int(os.environ.get("BENCH_EVENTS", "2000"))
    _unpublish(ctx, EVENTS_KEY)
    queue = redis.Redis.from_url(broker)
    queue.flushdb()  # messages of earlier figures would be work too
    worker = Worker(kit.VAR_DIR / "celery-worker.log")
    kit.log(f"figure 7: record-triggered automations, {count:,} deals, real Celery worker")
    meta = None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        try:
            worker.start()
            _phase(ctx, report, kit, worker, _deals(100, seed=20), "figure 7 warm-up")
            baseline = _phase(ctx, report, kit, worker, _deals(count, seed=21), "figure 7 baseline")
            meta = _publish(ctx, EVENTS_KEY, events_definition())
            deals = _deals(count, seed=22)
            expected = sum(1 for d in deals if d["amount"] >= EVENTS_THRESHOLD)
            measured = _phase(ctx, report, kit, worker, deals, "figure 7 (events)")
            runs = AutomationRun.objects.filter(
                automation_id=meta.pk, event_id__gt=measured["outbox_marker"]
            )
            run_count = runs.count()
            succeeded = runs.filter(status="succeeded").count()
            notified = _notified(ctx, measured["outbox_marker"])
            alone = _worker_alone(ctx, report, kit, worker, _deals(count, seed=23))
        finally:
            worker.stop()
            if "Traceback" in worker.log():
                report.details["events_worker_log_tail"] = worker.log()[-4000:]
        costs = {"with automation": _in_process(ctx, kit, report, seed=24)}
        if cfg.profile:
            out = kit.RESULTS_DIR / f"profile-{stamp}-events.txt"
            costs["profile"] = _in_process(ctx, kit, report, seed=25, profile_to=out)
        _unpublish(ctx, EVENTS_KEY)
        costs["no automation"] = _in_process(ctx, kit, report, seed=26)
    finally:
        queue.flushdb()
        _unpublish(ctx, EVENTS_KEY)
        _forget_events(ctx, meta.pk if meta is not None else None, kit)
    ok = run_count == expected and succeeded == expected and notified == expected
    report.details["events"] = {
        "count": count,
        "runs_expected": expected,
        "runs": run_count,
        "runs_succeeded": succeeded,
        "notifications": notified,
        "measured": measured,
        "baseline": baseline,
        "worker_alone": alone,
        "in_process": {k: v for k, v in costs.items() if k != "profile"},
        "worker": "celery -A dajian worker --pool=prefork --concurrency=2 --loglevel=INFO",
        "profile": costs.get("profile"),
    }
    rate, base_rate = measured["events_per_s"] or 0.0, baseline["events_per_s"] or 0.0
    with_cost = costs["with automation"]["cpu_ms_per_event"]
    without_cost = costs["no automation"]["cpu_ms_per_event"]
    alone_ok = ok and (alone["events_per_s"] or 0.0) >= EVENTS_TARGET
    report.rows += [
        kit.Row(
            f"7. record-triggered automations end to end, real worker ({count:,} committed "
            f"creates → outbox → Redis → worker prefork x2 → action)",
            alone["events_per_s"],
            "events/s",
            f">= {EVENTS_TARGET:g}",
            f"in-process process_outbox_event {with_cost:g} ms CPU/event "
            f"(no automation {without_cost:g} ms)",
            alone_ok,
            ""
            if ok
            else f"runs {run_count} (succeeded {succeeded}), notifications {notified}; "
            f"expected {expected}",
        ),
        kit.Row(
            f"7. the same while {count:,} creates run on the same 2 cores ({expected:,} runs)",
            rate,
            "events/s",
            "-",
            f"outbox hand-off only (no automation) {base_rate:g} events/s: the creates bound it",
            None,
        ),
        kit.Row(
            "7. creates/s while the worker runs",
            measured["creates_per_s"],
            "creates/s",
            "-",
            f"without automation {baseline['creates_per_s']:g}/s; drain after the last create "
            f"{measured['drain_after_last_create_s']:g} s (without "
            f"{baseline['drain_after_last_create_s']:g} s)",
            None,
        ),
    ]


def _notified(ctx: dict[str, Any], marker: int) -> int:
    """Notifications the automation wrote for the records of the events past ``marker``."""
    t = _tables()
    with psycopg.connect(ctx["db_url"], autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {t['notification']} WHERE kind = 'automation' AND "
            "payload ->> 'automation' = %s AND record_id IN (SELECT (payload ->> 'record')"
            f"::bigint FROM {t['outbox']} WHERE id > %s)",
            (_source(ctx, EVENTS_KEY), marker),
        ).fetchone()
    return int(row[0])


def _forget_events(ctx: dict[str, Any], automation_id: int | None, kit: Any) -> None:
    """Delete the deals the figure created and what they caused."""
    ds, db_url, t = ctx["ds"], ctx["db_url"], _tables()
    new = "SELECT id FROM runtime_record WHERE form_id = %s AND id > %s"
    ids = (ds.deal_form_id, ds.bulk_max_id)
    with psycopg.connect(db_url, autocommit=True) as conn:
        if automation_id is not None:
            conn.execute(f"DELETE FROM {t['execution']} WHERE automation_id = %s", (automation_id,))
            conn.execute(f"DELETE FROM {t['run']} WHERE automation_id = %s", (automation_id,))
        conn.execute(f"DELETE FROM {t['notification']} WHERE record_id IN ({new})", ids)
        conn.execute(
            f"DELETE FROM {t['outbox']} WHERE topic LIKE 'record.%%' AND "
            f"(payload ->> 'form')::bigint = %s AND (payload ->> 'record')::bigint > %s",
            ids,
        )
        try:
            removed = conn.execute(
                "DELETE FROM runtime_record WHERE form_id = %s AND id > %s", ids
            ).rowcount
        except psycopg.Error as exc:
            kit.log(f"could not remove the deals figure 7 created: {exc}")
            return
        for table in ("runtime_record", t["outbox"], t["notification"], t["run"], t["execution"]):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    kit.log(f"removed the {removed:,} deals figure 7 created and what they caused")
