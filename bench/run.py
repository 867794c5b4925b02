"""Dajian's benchmark (``make bench``): its figures against their targets on PostgreSQL,
each beside a raw baseline measured in the same run. See bench/README.md.

Environment:
  BENCH_SECONDS       seconds per measured figure (default 20; 5 for a dry run)
  BENCH_CONNECTIONS   wrk connections (default 2; the issue allows 2-4)
  BENCH_THREADS       wrk threads (default 2)
  BENCH_RECORDS       records loaded for figure 2 (default 1,000,000)
  BENCH_WORKER_CLASS  gunicorn worker class (default sync; 2 workers always)
  BENCH_DATABASE_URL  use this PostgreSQL server instead of the bench's own cluster
  BENCH_KEEP=1        leave PostgreSQL, Redis and gunicorn running at the end
  BENCH_PROFILE=0     skip the in-process cProfile of each operation (bench/results/)
  BENCH_QUIET_WAIT    seconds to wait for other work on the machine to stop (default 120)
  BENCH_ONLY          comma list of figures to run: create,list,form,tasks,timers,scan,
                      events,dashboard,install (default all)
  BENCH_SCAN_RUNS     measured runs of the scheduled scan (default 1; median reported)
  BENCH_EVENTS        records created per phase of the events figure (default 2000)
  BENCH_EVENT_THREADS threads creating them (default 2)
  BENCH_DASHBOARD_RECORDS  store visits of the dashboard figure (default 1,000,000)
  BENCH_DASHBOARD_RUNS     measured computations of the dashboard per mode (default 9, min 7)
  BENCH_INSTALL_RECORDS    sample records of the template install figure (default 10,000)
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import automation_common  # noqa: E402
import automation_events  # noqa: E402
import automation_scan  # noqa: E402
import cluster as bench_cluster  # noqa: E402
import dashboard  # noqa: E402
import dataset  # noqa: E402
import forms as bench_forms  # noqa: E402
import hotspots  # noqa: E402
import inbox  # noqa: E402
import loadgen  # noqa: E402
import operations  # noqa: E402
import raw  # noqa: E402
import template_install  # noqa: E402
from server import Gunicorn  # noqa: E402

RESULTS_DIR = BENCH_DIR / "results"
VAR_DIR = ROOT / "var" / "bench"
QUIET_LIMIT_PCT = 20.0  # other work allowed before a measurement starts (% of all cores)
OTHER_LIMIT_PCT = 10.0  # other work during a measurement that makes it unreliable
ALL_FIGURES = frozenset(
    {"create", "list", "form", "tasks", "timers", "scan", "events", "dashboard", "install"}
)
BENCH_SECRET = "bench-only-secret-key-not-used-anywhere-else-0123456789abcdef"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S', time.gmtime())}Z] {message}", flush=True)


@dataclass
class Config:
    seconds: float = 20.0
    connections: int = 2
    threads: int = 2
    records: int = 1_000_000
    worker_class: str = "sync"
    database_url: str = ""
    keep: bool = False
    quiet_wait: float = 120.0
    profile: bool = True
    only: frozenset[str] = ALL_FIGURES

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        only = env.get("BENCH_ONLY", "")
        return cls(
            seconds=float(env.get("BENCH_SECONDS", "20")),
            connections=int(env.get("BENCH_CONNECTIONS", "2")),
            threads=int(env.get("BENCH_THREADS", "2")),
            records=int(env.get("BENCH_RECORDS", "1000000")),
            worker_class=env.get("BENCH_WORKER_CLASS", "sync"),
            database_url=env.get("BENCH_DATABASE_URL", ""),
            keep=env.get("BENCH_KEEP", "") == "1",
            quiet_wait=float(env.get("BENCH_QUIET_WAIT", "120")),
            profile=env.get("BENCH_PROFILE", "1") != "0",
            only=frozenset(x.strip() for x in only.split(",") if x.strip()) or ALL_FIGURES,
        )


@dataclass
class Row:
    """One line of the result table."""

    figure: str
    measured: float | None
    unit: str
    target: str
    baseline: str
    passed: bool | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "measured": self.measured,
            "unit": self.unit,
            "target": self.target,
            "baseline": self.baseline,
            "passed": self.passed,
            "note": self.note,
        }


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


# --- HTTP helpers --------------------------------------------------------------------------


def post_graphql(base_url: str, body: str, token: str) -> tuple[int, dict[str, Any] | str]:
    request = urllib.request.Request(
        f"{base_url}/graphql/",
        data=body.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text[:2000]


class FigureFailed(Exception):
    """A figure could not be measured (the operation errors or returns wrong data)."""


def _check_ok(status: int, payload: Any, what: str) -> dict[str, Any]:
    if status != 200 or not isinstance(payload, dict) or payload.get("errors"):
        raise FigureFailed(
            f"{what}: HTTP {status}: {json.dumps(payload, ensure_ascii=False)[:1500]}"
        )
    return payload["data"]


# --- PostgreSQL statistics ---------------------------------------------------------------------


def reset_statements(db_url: str) -> None:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def statement_stats(db_url: str, requests: int, limit: int = 25) -> dict[str, Any]:
    """What the server asked PostgreSQL during a figure: statements per request and the
    most expensive statements."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT calls, total_exec_time, mean_exec_time, rows, query FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query NOT ILIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC"
        ).fetchall()
    calls = sum(r[0] for r in rows)
    exec_ms = sum(r[1] for r in rows)
    top = [
        {
            "calls_per_request": round(r[0] / requests, 2) if requests else None,
            "mean_ms": round(r[2], 3),
            "total_ms": round(r[1], 1),
            "query": " ".join(r[4].split())[:300],
        }
        for r in rows[:limit]
    ]
    return {
        "statements_per_request": round(calls / requests, 2) if requests else None,
        "db_exec_ms_per_request": round(exec_ms / requests, 3) if requests else None,
        "top": top,
    }


# --- figures -----------------------------------------------------------------------------------


def warm_up(server: Gunicorn, cfg: Config, bodies: list[str], token: str) -> None:
    loadgen.run_wrk(server.base_url, 2, cfg.connections, cfg.threads, bodies=bodies, token=token)


def measure(
    ctx: dict[str, Any], report: Report, figure: str, bodies: list[str] | None
) -> tuple[loadgen.WrkResult, dict[str, Any]]:
    """One measured wrk run of ``figure`` on a machine that is otherwise quiet (or a
    recorded warning that it was not), with PostgreSQL's statement statistics."""
    cfg, server, db_url, pg_pid = ctx["cfg"], ctx["server"], ctx["db_url"], ctx["pg_pid"]
    busy = loadgen.wait_until_quiet(QUIET_LIMIT_PCT, cfg.quiet_wait, log)
    if busy >= QUIET_LIMIT_PCT:
        report.problems.append(
            f"{figure}: the machine was {busy:.0f}% busy with other work before the run"
        )
    reset_statements(db_url)
    result = loadgen.run_wrk(
        server.base_url,
        cfg.seconds,
        cfg.connections,
        cfg.threads,
        bodies=bodies,
        token=ctx["ds"].token,
        cpu_groups={"gunicorn": server.pid, **({"postgres": pg_pid} if pg_pid else {})},
    )
    other = result.cpu.get("other_processes_pct", 0.0)
    if other > OTHER_LIMIT_PCT:
        report.problems.append(
            f"{figure}: {other:.0f}% of the machine's CPU went to processes outside the "
            "bench during the run; this figure is not reliable (run on a quiet machine)"
        )
    return result, statement_stats(db_url, result.requests)


def _status_note(result: loadgen.WrkResult) -> str:
    if not result.failures:
        return ""
    return (
        f"{result.failures} failed responses (socket {result.socket_errors}, non-200 "
        f"{result.bad_status}, GraphQL errors {result.graphql_errors}); first: "
        f"{result.sample_error[:300]}"
    )


def http_baselines(server: Gunicorn, cfg: Config, ops: dict[str, str], report: Report) -> None:
    seconds = min(cfg.seconds, 5.0)
    short = Config(**{**cfg.__dict__, "seconds": seconds})
    for name, kwargs in (
        ("GET /healthz (Django, no DB)", {"method": "GET", "path": "/healthz", "bodies": None}),
        (
            "POST /graphql/ { __typename } (token auth)",
            {"bodies": operations.typename_bodies(ops["typename"])},
        ),
    ):
        loadgen.wait_until_quiet(QUIET_LIMIT_PCT, min(cfg.quiet_wait, 30), log)
        try:
            result = loadgen.run_wrk(
                server.base_url,
                short.seconds,
                cfg.connections,
                cfg.threads,
                token=report.details["token"],
                cpu_groups={"gunicorn": server.pid},
                **kwargs,
            )
        except Exception as exc:  # noqa: BLE001 - a baseline failing must not stop the bench
            report.problems.append(f"HTTP baseline {name}: {exc}")
            continue
        report.details.setdefault("http_baselines", {})[name] = result.as_dict()
        report.rows.append(
            Row(
                f"baseline: {name}",
                round(result.rps, 1),
                "req/s",
                "-",
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms",
                None,
                _status_note(result),
            )
        )


def figure_create(ctx: dict[str, Any], report: Report) -> None:
    cfg, server, ds, db_url = ctx["cfg"], ctx["server"], ctx["ds"], ctx["db_url"]
    bodies = operations.create_bodies(ctx["ops"]["create"])
    status, payload = post_graphql(server.base_url, bodies[0].replace("__N__", "0"), ds.token)
    data = _check_ok(status, payload, "createRecord warm-up")
    created = (data or {}).get("createRecord") or {}
    if created.get("errors") or not (created.get("record") or {}).get("id"):
        text = json.dumps(created, ensure_ascii=False)[:1500]
        raise FigureFailed(f"createRecord refused the bench's record: {text}")
    warm_up(server, cfg, bodies, ds.token)

    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        marker = conn.execute("SELECT coalesce(max(id), 0) FROM runtime_record").fetchone()[0]
        audit_before = _count(conn, "platform_auditevent")
        outbox_before = _count(conn, "runtime_outboxevent")
    log(f"figure 1: createRecord, {cfg.seconds:.0f} s, {cfg.connections} connections")
    result, stats = measure(ctx, report, "figure 1 (createRecord)", bodies)
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows_written = conn.execute(
            "SELECT count(*) FROM runtime_record WHERE id > %s", (marker,)
        ).fetchone()[0]
        audit_written = _count(conn, "platform_auditevent") - audit_before
        outbox_written = _count(conn, "runtime_outboxevent") - outbox_before
        sample = conn.execute(
            "SELECT data FROM runtime_record WHERE id > %s ORDER BY id DESC LIMIT 1", (marker,)
        ).fetchone()

    log("figure 1 baseline: raw single-row INSERT")
    pool = [json.loads(x) for x in dataset.cleaned_pool(ctx["deal_version"], 500, seed=99)]
    ids = {
        "workspace": ds.workspace_id,
        "form": ds.deal_form_id,
        "version": ds.deal_version_id,
        "user": ds.user_id,
    }
    insert = raw.insert_rate(db_url, cfg.seconds, cfg.connections, pool, ids)
    _remove_new_records(db_url, ds)

    report.details["create"] = {
        "wrk": result.as_dict(),
        "postgres": stats,
        "records_written": rows_written,
        "audit_events_written": audit_written,
        "outbox_events_written": outbox_written,
        "stored_data_sample_bytes": len(json.dumps(sample[0], ensure_ascii=False).encode())
        if sample
        else None,
        "raw_insert": insert.as_dict(),
    }
    note = _status_note(result)
    base = f"raw INSERT {insert.rate:.0f} rows/s ({cfg.connections} conns)"
    report.rows += [
        Row(
            "1. createRecord throughput",
            round(result.rps, 1),
            "req/s",
            ">= 250",
            base,
            result.rps >= 250 and not result.failures,
            note,
        ),
        Row(
            "1. createRecord p50",
            round(result.p50_ms, 2),
            "ms",
            "-",
            f"raw INSERT p50 {insert.p50_ms:.2f} ms",
            None,
        ),
        Row(
            "1. createRecord p99",
            round(result.p99_ms, 2),
            "ms",
            "<= 30",
            f"raw INSERT p99 {insert.p99_ms:.2f} ms",
            result.p99_ms <= 30 and not result.failures,
        ),
    ]


def _count(conn: Any, table: str) -> int:
    exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]
    if not exists:
        return 0
    return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _remove_new_records(db_url: str, ds: dataset.Dataset) -> None:
    """Back to the loaded 1,000,000 rows, so figure 2 lists the same data every run."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        try:
            removed = conn.execute(
                "DELETE FROM runtime_record WHERE form_id = %s AND id > %s",
                (ds.deal_form_id, ds.bulk_max_id),
            ).rowcount
        except psycopg.Error as exc:
            log(f"could not remove the records written by figure 1: {exc}")
            return
        conn.execute("VACUUM (ANALYZE) runtime_record")
    log(f"removed {removed:,} records written by figure 1 and its baseline; VACUUM ANALYZE done")


def _runtime_list_sql(ctx: dict[str, Any], stage: str) -> str | None:
    """The SQL the runtime runs for the page, captured in-process from
    ``selectors.list_records`` (None if that is not possible)."""
    ds = ctx["ds"]
    try:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from dajian.runtime import selectors

        with CaptureQueriesContext(connection) as captured:
            selectors.list_records(
                ctx["actor"],
                ds.app_key,
                bench_forms.DEAL_FORM,
                filter=operations.list_variables(stage)["filter"],
                order_by=["-created_at"],
                first=operations.PAGE_SIZE,
            )
    except Exception as exc:  # noqa: BLE001 - the hand-written query is timed anyway
        log(f"could not capture the runtime's list SQL: {exc!r}")
        return None
    candidates = [
        q["sql"]
        for q in captured.captured_queries
        if "runtime_record" in q["sql"] and "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
    ]
    return candidates[-1] if candidates else None


def _minimal_list_sql(ds: dataset.Dataset, stage: str) -> tuple[str, Any]:
    """What the page needs and nothing more: the rows' id, data and creation time."""
    from psycopg.types.json import Jsonb

    sql = (
        "SELECT id, data, created_at FROM runtime_record "
        "WHERE workspace_id = %s AND form_id = %s "
        f"AND (data -> '{bench_forms.SELECT_FIELD}') = %s "
        "ORDER BY created_at DESC, id DESC LIMIT %s"
    )
    return sql, (ds.workspace_id, ds.deal_form_id, Jsonb(stage), operations.PAGE_SIZE + 1)


def figure_list(ctx: dict[str, Any], report: Report) -> None:
    cfg, server, ds, db_url = ctx["cfg"], ctx["server"], ctx["ds"], ctx["db_url"]
    stage = bench_forms.STAGE_VALUES[3]
    details: dict[str, Any] = {
        "select_index": ds.select_index,
        "select_index_def": ds.select_index_def,
        "stage_share_pct": stage_shares(db_url, ds),
    }
    report.details["list"] = details
    # Both queries for every select value, in the order wrk cycles through them.
    variants: dict[str, list[raw.Query]] = {
        "minimal": [_minimal_list_sql(ds, v) for v in bench_forms.STAGE_VALUES]
    }
    captured = [_runtime_list_sql(ctx, v) for v in bench_forms.STAGE_VALUES]
    if all(captured):
        variants["runtime"] = [(sql, None) for sql in captured if sql]
    timings: dict[str, raw.Timing] = {}
    for name, queries in variants.items():
        rare_sql, rare_params = queries[-1]  # the rarest value: the worst case without index
        plan = raw.explain(db_url, rare_sql, rare_params)
        timing = raw.query_timing(queries, db_url, seconds=min(cfg.seconds, 5))
        timings[name] = timing
        entry: dict[str, Any] = {
            "sql_for_rarest_value": rare_sql[:4000],
            "result_bytes": raw.result_bytes(db_url, rare_sql, rare_params),
            "plan": plan,
            "indexes_used": raw.used_indexes(plan),
            "with_index": timing.as_dict(),
        }
        if ds.select_index:
            without = raw.query_timing_without_index(queries, db_url, ds.select_index)
            entry["without_index"] = without.as_dict()
            entry["plan_without_index"] = raw.explain(
                db_url, rare_sql, rare_params, drop_index=ds.select_index
            )
            if ds.select_index not in entry["indexes_used"]:
                report.problems.append(
                    f"the {name} list SQL does not use the composite index {ds.select_index} "
                    f"(plan uses {entry['indexes_used'] or 'no index'})"
                )
        details[f"raw_{name}_sql"] = entry
    if not ds.select_index:
        report.problems.append(
            "the composite expression index on the select field is MISSING: " + "; ".join(ds.notes)
        )

    bodies = operations.list_bodies(ctx["ops"]["list"])
    status, payload = post_graphql(server.base_url, bodies[3], ds.token)
    data = _check_ok(status, payload, "records warm-up")
    _verify_page(data, stage)
    warm_up(server, cfg, bodies, ds.token)
    log(f"figure 2: records (page of 50 of {ds.bulk_count:,}), {cfg.seconds:.0f} s")
    result, stats = measure(ctx, report, "figure 2 (records)", bodies)
    details["wrk"] = result.as_dict()
    details["postgres"] = stats
    details["response_bytes"] = len(json.dumps(payload, ensure_ascii=False).encode())

    def describe(name: str) -> str:
        entry = details.get(f"raw_{name}_sql")
        if not entry:
            return ""
        without = entry.get("without_index")
        tail = (
            f" (without index: p50 {without['p50_ms']:.0f} ms, max {without['max_ms']:.0f} ms)"
            if without
            else " (index missing)"
        )
        return f"{name} SQL p50 {entry['with_index']['p50_ms']:.2f} ms{tail}"

    base = "; ".join(x for x in (describe("minimal"), describe("runtime")) if x)
    minimal = timings["minimal"]
    report.rows += [
        Row(
            "2. records throughput",
            round(result.rps, 1),
            "req/s",
            ">= 150",
            f"minimal SQL {minimal.rate:.0f} q/s (1 conn, sequential)",
            result.rps >= 150 and not result.failures,
            _status_note(result),
        ),
        Row(
            "2. records p50 (wrk, client side on loopback)",
            round(result.p50_ms, 2),
            "ms",
            "<= 15",
            base,
            result.p50_ms <= 15 and not result.failures,
        ),
        Row("2. records p99", round(result.p99_ms, 2), "ms", "-", "", None),
    ]


def stage_shares(db_url: str, ds: dataset.Dataset) -> dict[str, float]:
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT data ->> %s, count(*) FROM runtime_record WHERE form_id = %s GROUP BY 1",
            (bench_forms.SELECT_FIELD, ds.deal_form_id),
        ).fetchall()
    total = sum(n for _, n in rows) or 1
    return {value: round(100 * n / total, 2) for value, n in sorted(rows, key=lambda r: -r[1])}


def _verify_page(data: dict[str, Any], stage: str) -> None:
    page = (data or {}).get("records") or {}
    edges = page.get("edges") or []
    if len(edges) != operations.PAGE_SIZE:
        raise FigureFailed(f"records returned {len(edges)} edges, expected {operations.PAGE_SIZE}")
    stages = {(e["node"].get("data") or {}).get(bench_forms.SELECT_FIELD) for e in edges}
    if stages != {stage}:
        raise FigureFailed(f"records filter on {stage!r} returned stages {stages}")
    created = [e["node"].get("createdAt") for e in edges]
    if created != sorted(created, reverse=True):
        raise FigureFailed("records are not sorted by creation time, newest first")
    if not (page.get("pageInfo") or {}).get("hasNextPage"):
        raise FigureFailed("records says there is no next page")


def figure_form(ctx: dict[str, Any], report: Report) -> None:
    cfg, server, ds, db_url = ctx["cfg"], ctx["server"], ctx["ds"], ctx["db_url"]
    sql = (
        "SELECT f.id, f.key, f.published_id, a.key, v.number, v.definition "
        "FROM builder_form f JOIN builder_app a ON a.id = f.app_id "
        "JOIN builder_formversion v ON v.id = f.published_id "
        "WHERE f.workspace_id = %s AND a.key = %s AND f.key = %s"
    )
    params = (ds.workspace_id, ds.app_key, bench_forms.RENDER_FORM)
    raw_form = raw.query_timing([(sql, params)], db_url, seconds=min(cfg.seconds, 3))
    bodies = operations.form_bodies(ctx["ops"]["form"])
    status, payload = post_graphql(server.base_url, bodies[0], ds.token)
    data = _check_ok(status, payload, "form warm-up")
    fields = ((data or {}).get("form") or {}).get("fields") or []
    if len(fields) != 100:
        raise FigureFailed(f"form returned {len(fields)} fields, expected 100")
    response_bytes = len(json.dumps(payload, ensure_ascii=False).encode())
    warm_up(server, cfg, bodies, ds.token)
    log(f"figure 3: form (100 fields), {cfg.seconds:.0f} s")
    result, stats = measure(ctx, report, "figure 3 (form)", bodies)
    report.details["form"] = {
        "wrk": result.as_dict(),
        "postgres": stats,
        "response_bytes": response_bytes,
        "raw_sql": sql,
        "raw": raw_form.as_dict(),
    }
    report.rows += [
        Row(
            "3. form render (100 fields) p50",
            round(result.p50_ms, 2),
            "ms",
            "<= 10",
            f"raw SQL {raw_form.p50_ms:.2f} ms",
            result.p50_ms <= 10 and not result.failures,
            _status_note(result),
        ),
        Row(
            "3. form render req/s",
            round(result.rps, 1),
            "req/s",
            "-",
            f"response {response_bytes / 1024:.0f} KB",
            None,
        ),
    ]


def profile_operations(ctx: dict[str, Any], report: Report) -> None:
    """cProfile each measured operation in-process (evidence for slow paths)."""
    ds, ops = ctx["ds"], ctx["ops"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    plan = [
        ("create", operations.create_bodies(ops["create"], count=1)[0], 200),
        ("list", operations.list_bodies(ops["list"])[3], 100),
        ("form", operations.form_bodies(ops["form"])[0], 200),
    ]
    log("profiling each operation in-process (cProfile)")
    for name, body, runs in plan:
        if name not in ctx["cfg"].only:
            continue
        try:
            out = RESULTS_DIR / f"profile-{stamp}-{name}.txt"
            report.details.setdefault("profile", {})[name] = hotspots.profile_operation(
                ds.token, body, runs, out
            )
        except Exception as exc:  # noqa: BLE001 - evidence only; never fails the bench
            report.problems.append(f"profiling {name} failed: {exc!r}")
    if "create" in ctx["cfg"].only:
        _remove_new_records(ctx["db_url"], ds)


# --- output -----------------------------------------------------------------------------------


def print_table(report: Report, header: dict[str, Any]) -> None:
    print()
    print("Dajian benchmark", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    for key, value in header.items():
        print(f"  {key}: {value}")
    print()
    columns = ["figure", "measured", "target", "raw baseline (same run)", "result"]
    lines = []
    for row in report.rows:
        measured = "-" if row.measured is None else f"{row.measured:g} {row.unit}"
        target = row.target if row.target == "-" else f"{row.target} {row.unit}"
        verdict = {True: "PASS", False: "FAIL", None: ""}[row.passed]
        lines.append([row.figure, measured, target, row.baseline, verdict])
    widths = [
        max(len(columns[i]), *(len(line[i]) for line in lines)) if lines else len(columns[i])
        for i in range(5)
    ]
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for line in lines:
        print(" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
    notes = [(row.figure, row.note) for row in report.rows if row.note]
    if notes or report.problems:
        print()
        for figure, note in notes:
            print(f"  ! {figure}: {note}")
        for problem in report.problems:
            print(f"  ! {problem}")
    for name in ("create", "list", "form", "tasks"):
        info = report.details.get(name)
        if not info or "postgres" not in info:
            continue
        pg = info["postgres"]
        cpu = info["wrk"]["cpu_ms_per_request"]
        print(
            f"\n  {name}: {pg['statements_per_request']} SQL statements/request, "
            f"{pg['db_exec_ms_per_request']} ms in PostgreSQL/request; CPU/request: "
            f"gunicorn {cpu.get('gunicorn')} ms, postgres {cpu.get('postgres')} ms, "
            f"wrk {cpu.get('wrk')} ms; machine busy {cpu.get('machine_busy_pct')}% "
            f"(other processes {cpu.get('other_processes_pct')}%)"
        )
        for stmt in pg["top"][:4]:
            print(f"    {stmt['calls_per_request']}x {stmt['mean_ms']} ms  {stmt['query'][:110]}")
        profile = report.details.get("profile", {}).get(name)
        if profile:
            print(
                f"    in-process cProfile: {profile['cpu_ms_per_request_profiled']} ms CPU/request;"
                " most own CPU time:"
            )
            for item in profile["top_own_time"][:5]:
                print(
                    f"      {item['own_ms_per_request']:>7} ms  {item['calls_per_request']:>7}x"
                    f"  {item['function'][:100]}"
                )
    automation_common.print_evidence(report.details)
    dashboard.print_evidence(report.details)
    template_install.print_evidence(report.details)


def main() -> int:
    cfg = Config.from_env()
    report = Report()
    started = datetime.now(UTC)
    pg = bench_cluster.PgCluster(VAR_DIR / "pg")
    redis = bench_cluster.RedisServer(VAR_DIR / "redis")
    server: Gunicorn | None = None
    outer_url = os.environ.get("DATABASE_URL", "")
    header: dict[str, Any] = {
        "cores (nproc)": len(os.sched_getaffinity(0)),
        "seconds per figure": cfg.seconds,
        "wrk": f"{cfg.threads} threads, {cfg.connections} connections, loopback",
    }
    try:
        if cfg.database_url:
            import psycopg

            db_url = cfg.database_url.rsplit("/", 1)[0] + "/" + dataset.DB_NAME
            admin_url = cfg.database_url
            with psycopg.connect(admin_url) as conn:
                header["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
            pg_pid = 0  # another machine's or user's server: its CPU is not accounted
        else:
            if outer_url:
                log(
                    "ignoring DATABASE_URL: the bench runs its own durable cluster under "
                    "var/bench/ (fsync on, data kept between runs); set BENCH_DATABASE_URL "
                    "to use another server"
                )
            log("starting PostgreSQL (var/bench/pg)")
            pg.start()
            admin_url, db_url = pg.url("postgres"), pg.url(dataset.DB_NAME)
            header["PostgreSQL"] = (
                pg.version() + " (fsync on, synchronous_commit on, shared_buffers 512MB)"
            )
            pg_pid = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
        redis_ok = redis.start()
        header["broker"] = f"Redis {redis.url}" if redis_ok else "filesystem (redis-server missing)"

        server_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dajian.settings",
            "DATABASE_URL": db_url,
            "DAJIAN_DEBUG": "0",
            "DAJIAN_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DAJIAN_LOG_LEVEL": "WARNING",
            "DAJIAN_SECRET_KEY": BENCH_SECRET,
            "DAJIAN_LANGUAGE": "en",
        }
        if redis_ok:
            server_env["REDIS_URL"] = redis.url
            server_env["CELERY_BROKER_URL"] = redis.url
        os.environ.update({k: v for k, v in server_env.items() if k != "PATH"})

        created = dataset.prepare_database(admin_url, db_url, cfg.records, log)
        import django

        django.setup()
        try:
            ds = dataset.ensure_dataset(db_url, cfg.records, created, log)
        except Exception as exc:
            details = getattr(exc, "errors", None) or getattr(exc, "details", None)
            raise SystemExit(
                f"bench: setting up the data set through Dajian's services failed: {exc!r}"
                + (f"\n  {details}" if details else "")
            ) from exc
        report.details["token"] = ds.token
        from django.contrib.auth import get_user_model

        from dajian.builder.models import FormVersion
        from dajian.platform.actors import actor_for
        from dajian.platform.models import Workspace

        actor = actor_for(
            get_user_model().objects.get(pk=ds.user_id), Workspace.objects.get(pk=ds.workspace_id)
        )
        try:
            from dajian.schema import schema

            sdl = str(schema)
        except Exception as exc:  # noqa: BLE001 - the figures report the failure themselves
            schema, sdl = None, None
            report.problems.append(f"dajian.schema does not import: {exc}")
        ops = operations.adapt_to_schema(sdl)
        if schema is not None:
            for name, problem in operations.check_operations(schema.graphql_schema, ops).items():
                report.problems.append(f"operation {name!r} does not match the schema: {problem}")

        server = Gunicorn(server_env, 2, cfg.worker_class, 2, VAR_DIR / "gunicorn.log")
        server.start()
        header["server"] = f"{server.describe()} on {server.base_url}, DEBUG off"
        ctx = {
            "cfg": cfg,
            "server": server,
            "ds": ds,
            "db_url": db_url,
            "ops": ops,
            "pg_pid": pg_pid,
            "actor": actor,
            "deal_version": FormVersion.objects.get(pk=ds.deal_version_id),
        }
        http_baselines(server, cfg, ops, report)
        for name, figure in (
            ("create", figure_create),
            ("list", figure_list),
            ("form", figure_form),
            ("tasks", lambda c, r: inbox.figure_tasks(c, r, sys.modules[__name__])),
            ("timers", lambda c, r: inbox.figure_timers(c, r, sys.modules[__name__])),
            ("scan", lambda c, r: automation_scan.figure_scan(c, r, sys.modules[__name__])),
            ("events", lambda c, r: automation_events.figure_events(c, r, sys.modules[__name__])),
            ("dashboard", lambda c, r: dashboard.figure_dashboard(c, r, sys.modules[__name__])),
            ("install", lambda c, r: template_install.figure_install(c, r, sys.modules[__name__])),
        ):
            if name not in cfg.only:
                continue
            try:
                figure(ctx, report)
            except FigureFailed as exc:
                report.problems.append(f"figure {name} NOT MEASURED: {exc}")
                report.rows.append(
                    Row(f"{name}: not measured", None, "", "-", "", False, str(exc)[:200])
                )
            except Exception as exc:  # noqa: BLE001 - one broken figure must not hide the others
                report.problems.append(f"figure {name} crashed: {exc!r}")
                report.details.setdefault("tracebacks", {})[name] = traceback.format_exc()
                report.rows.append(
                    Row(f"{name}: not measured", None, "", "-", "", False, repr(exc)[:200])
                )
        if cfg.profile:
            profile_operations(ctx, report)
        if server.process and server.process.poll() is None:
            tail = (VAR_DIR / "gunicorn.log").read_text(errors="replace")[-4000:]
            if "Traceback" in tail or "ERROR" in tail:
                report.details["gunicorn_log_tail"] = tail
    finally:
        if not cfg.keep:
            if server is not None:
                server.stop()
            redis.stop()
            if not cfg.database_url:
                pg.stop()
        else:
            log(f"BENCH_KEEP=1: left running (PostgreSQL {pg.url(dataset.DB_NAME)})")

    report.details.pop("token", None)
    print_table(report, header)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "started_at": started.isoformat(),
        "header": header,
        "config": {
            k: (sorted(v) if isinstance(v, frozenset) else v) for k, v in cfg.__dict__.items()
        },
        "rows": [row.as_dict() for row in report.rows],
        "problems": report.problems,
        "details": report.details,
    }
    out = RESULTS_DIR / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    (RESULTS_DIR / "latest.json").write_text(out.read_text())
    print(f"\n  results: {out.relative_to(ROOT)}")
    failed = [row for row in report.rows if row.passed is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
