"""Figures 4 and 5: the task inbox and the due-timer scan (issue 3).

Figure 4 loads 100,000 open tasks across 1,000 users (70% approval tasks, each with its
own pending request on a different deal, 30% to-dos; the bench user is one of the
1,000 and so has about 100 open tasks) and measures ``myTasks`` (first page of 20) over
HTTP with wrk, beside the raw SQL of the inbox page.

Figure 5 loads 100,000 pending timers, 1% of them due, and measures
``fire_due_timers()`` — the set-based scan plus locking, applying a no-op action to and
marking each due timer in its own transaction — beside the scan query alone in raw SQL.
It also reports firing all 100,000 at once, for scale.
"""

from __future__ import annotations

import io
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from dataset import _meta_get, _meta_set

TASKS = 100_000
USERS = 1_000
APPROVAL_SHARE = 0.7
TIMERS = 100_000
DUE_SHARE = 0.01
PAGE = 20
LOAD_VERSION = "1"

MY_TASKS = """
query Inbox($first: Int) {
  myTasks(status: OPEN, first: $first) {
    edges {
      node {
        id kind status title dueAt slaColor allowedDecisions createdAt
        record { id stage status }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
""".strip()


def _copy(cur: psycopg.Cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_cell(v) for v in row) + "\n")
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())


def _cell(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).replace("\\", "\\\\")
    return str(value)


def _next_id(cur: psycopg.Cursor, table: str) -> int:
    return int(cur.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])


def _reset_sequence(cur: psycopg.Cursor, table: str) -> None:
    cur.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
    )


def _chain_ids(ds: Any) -> tuple[int, int]:
    """A published approval chain on the deal form (created once through the ORM)."""

    from django.utils import timezone

    from dajian.builder.models import Form, Metadata, MetadataVersion
    from dajian.platform.audit import canonical_hash

    form = Form.objects.get(pk=ds.deal_form_id)
    definition = {
        "schema_version": 1,
        "form": form.key,
        "label": {"en": "Deal approval", "zh-CN": "商机审批"},
        "steps": [{"key": "manager", "approvers": [{"type": "manager"}], "mode": "any"}],
    }
    meta, _ = Metadata.objects.get_or_create(
        app_id=form.app_id,
        kind="approval_chain",
        key="bench_deal",
        defaults={"workspace_id": ds.workspace_id, "form": form, "draft": definition},
    )
    if meta.published_id is None:
        meta.published = MetadataVersion.objects.create(
            metadata=meta,
            number=1,
            definition=definition,
            content_hash=canonical_hash(definition),
            published_at=timezone.now(),
        )
        meta.save(update_fields=["published"])
    return meta.pk, meta.published_id


def ensure_tasks(db_url: str, ds: Any, log) -> None:
    """Load the inbox data once per data set (kept between runs)."""
    from django.contrib.contenttypes.models import ContentType

    from dajian.runtime.models import ApprovalTask, TodoTask

    approval_ct = ContentType.objects.get_for_model(ApprovalTask).pk
    todo_ct = ContentType.objects.get_for_model(TodoTask).pk
    chain_id, chain_version_id = _chain_ids(ds)
    stamp = f"{LOAD_VERSION}:{TASKS}:{USERS}:{ds.bulk_max_id}"
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        if _meta_get(conn, "tasks_loaded") == stamp:
            return
        started = time.monotonic()
        log(f"loading {TASKS:,} open tasks for {USERS:,} users (once; cached)")
        for table in (
            "runtime_approvaltask",
            "runtime_todotask",
            "runtime_task",
            "runtime_approvalevent",
            "runtime_approvalrequest",
        ):
            cur.execute(f"DELETE FROM {table}")
        cur.execute(
            "DELETE FROM platform_membership WHERE user_id IN "
            "(SELECT id FROM auth_user WHERE username LIKE 'inbox%%')"
        )
        cur.execute("DELETE FROM auth_user WHERE username LIKE 'inbox%%'")
        now = datetime.now(UTC)
        first_user = _next_id(cur, "auth_user")
        _copy(
            cur,
            "auth_user",
            [
                "id",
                "password",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
            ],
            [
                (first_user + i, "!", False, f"inbox{i:04d}", "", "", "", False, True, now)
                for i in range(USERS - 1)
            ],
        )
        _reset_sequence(cur, "auth_user")
        users = [ds.user_id, *range(first_user, first_user + USERS - 1)]
        _copy(
            cur,
            "platform_membership",
            ["workspace_id", "user_id", "is_admin", "is_active", "created_at"],
            [(ds.workspace_id, uid, False, True, now) for uid in users[1:]],
        )
        rng = random.Random(11)
        record_ids = [
            int(r[0])
            for r in cur.execute(
                "SELECT id FROM runtime_record WHERE form_id = %s ORDER BY id LIMIT %s",
                (ds.deal_form_id, TASKS),
            )
        ]
        approvals = min(int(TASKS * APPROVAL_SHARE), len(record_ids))
        first_request = _next_id(cur, "runtime_approvalrequest")
        first_task = _next_id(cur, "runtime_task")
        requests, tasks, approval_rows, todo_rows = [], [], [], []
        for i in range(TASKS):
            task_id = first_task + i
            assignee = users[i % USERS]
            created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
            due = created + timedelta(hours=rng.choice((4, 24, 72)))
            if i < approvals:
                request_id = first_request + i
                requests.append(
                    (
                        request_id,
                        ds.workspace_id,
                        record_ids[i],
                        ds.deal_form_id,
                        chain_id,
                        chain_version_id,
                        "pending",
                        users[(i + 1) % USERS],
                        created,
                        {},
                        "0" * 64,
                        1,
                        0,
                        1,
                        1,
                        "",
                        "",
                    )
                )
                tasks.append(
                    (
                        task_id,
                        approval_ct,
                        ds.workspace_id,
                        assignee,
                        "approval",
                        "open",
                        {"en": f"Deal {record_ids[i]}"},
                        record_ids[i],
                        created,
                        due,
                        "",
                        "",
                        1,
                    )
                )
                approval_rows.append((task_id, request_id, 0, "manager", 1, 0, False))
            else:
                tasks.append(
                    (
                        task_id,
                        todo_ct,
                        ds.workspace_id,
                        assignee,
                        "todo",
                        "open",
                        {"en": f"Follow up {i}"},
                        None,
                        created,
                        due,
                        "",
                        "",
                        1,
                    )
                )
                todo_rows.append((task_id, {"en": "Call the customer"}, [], "bench"))
        _copy(
            cur,
            "runtime_approvalrequest",
            [
                "id",
                "workspace_id",
                "record_id",
                "form_id",
                "chain_id",
                "chain_version_id",
                "status",
                "submitted_by_id",
                "submitted_at",
                "snapshot",
                "snapshot_hash",
                "snapshot_version",
                "current_step",
                "round",
                "version",
                "transition_comment",
                "transition_reason",
            ],
            requests,
        )
        _copy(
            cur,
            "runtime_task",
            [
                "id",
                "polymorphic_ctype_id",
                "workspace_id",
                "assignee_id",
                "kind",
                "status",
                "title",
                "record_id",
                "created_at",
                "due_at",
                "decision",
                "comment",
                "version",
            ],
            tasks,
        )
        _copy(
            cur,
            "runtime_approvaltask",
            [
                "task_ptr_id",
                "request_id",
                "step_index",
                "step_key",
                "round",
                "position",
                "escalated",
            ],
            approval_rows,
        )
        _copy(
            cur,
            "runtime_todotask",
            ["task_ptr_id", "message", "suggested_actions", "source"],
            todo_rows,
        )
        for table in ("runtime_task", "runtime_approvalrequest"):
            _reset_sequence(cur, table)
        conn.commit()
        conn.autocommit = True
        for table in (
            "auth_user",
            "platform_membership",
            "runtime_task",
            "runtime_approvaltask",
            "runtime_todotask",
            "runtime_approvalrequest",
        ):
            cur.execute(f"VACUUM (ANALYZE) {table}")
        _meta_set(conn, "tasks_loaded", stamp)
        log(f"inbox data loaded in {time.monotonic() - started:.1f} s")


def inbox_sql(ds: Any) -> tuple[str, tuple]:
    """The inbox page query the runtime should run: the index task_inbox serves it."""
    return (
        "SELECT id, kind, status, title, record_id, due_at, created_at FROM runtime_task "
        "WHERE workspace_id = %s AND assignee_id = %s AND status = 'open' "
        "ORDER BY created_at DESC, id DESC LIMIT %s",
        (ds.workspace_id, ds.user_id, PAGE + 1),
    )


def figure_tasks(ctx: dict[str, Any], report: Any, kit: Any) -> None:
    cfg, server, ds, db_url = ctx["cfg"], ctx["server"], ctx["ds"], ctx["db_url"]
    ensure_tasks(db_url, ds, kit.log)
    import raw

    sql, params = inbox_sql(ds)
    baseline = raw.query_timing([(sql, params)], db_url, seconds=min(cfg.seconds, 3))
    plan = raw.explain(db_url, sql, params)
    body = json.dumps({"query": MY_TASKS, "variables": {"first": PAGE}})
    status, payload = kit.post_graphql(server.base_url, body, ds.token)
    data = kit._check_ok(status, payload, "myTasks warm-up")
    edges = ((data or {}).get("myTasks") or {}).get("edges") or []
    if len(edges) != PAGE:
        raise kit.FigureFailed(f"myTasks returned {len(edges)} tasks, expected {PAGE}")
    kit.warm_up(server, cfg, [body], ds.token)
    kit.log(f"figure 4: myTasks (page of {PAGE} of ~{TASKS // USERS} open), {cfg.seconds:.0f} s")
    result, stats = kit.measure(ctx, report, "figure 4 (myTasks)", [body])
    report.details["tasks"] = {
        "wrk": result.as_dict(),
        "postgres": stats,
        "raw_sql": sql,
        "raw": baseline.as_dict(),
        "plan": plan,
        "indexes_used": raw.used_indexes(plan),
    }
    report.rows += [
        kit.Row(
            f"4. myTasks first page ({TASKS:,} open tasks, {USERS:,} users) p50",
            round(result.p50_ms, 2),
            "ms",
            "<= 20",
            f"raw inbox SQL {baseline.p50_ms:.2f} ms",
            result.p50_ms <= 20 and not result.failures,
            kit._status_note(result),
        ),
        kit.Row("4. myTasks req/s", round(result.rps, 1), "req/s", "-", "", None),
    ]


def _load_timers(db_url: str, ds: Any, due_share: float) -> None:
    now = datetime.now(UTC)
    rng = random.Random(5)
    rows = []
    for i in range(TIMERS):
        due = (
            now - timedelta(seconds=rng.randint(1, 3600))
            if i < TIMERS * due_share
            else now + timedelta(seconds=rng.randint(60, 30 * 86400))
        )
        rows.append((ds.workspace_id, "bench.noop", f"bench:{i}", due, {}, now, ""))
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM runtime_timer")
        _copy(
            cur,
            "runtime_timer",
            ["workspace_id", "kind", "key", "due_at", "payload", "created_at", "result"],
            rows,
        )
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM (ANALYZE) runtime_timer")


def figure_timers(ctx: dict[str, Any], report: Any, kit: Any) -> None:
    import raw

    from dajian.runtime.timers import fire_due_timers, timer_action

    timer_action("bench.noop")(lambda timer, now: "ok")
    db_url, ds = ctx["db_url"], ctx["ds"]
    claim_sql = (
        "SELECT id FROM runtime_timer WHERE fired_at IS NULL AND "
        "cancelled_at IS NULL AND due_at <= now() ORDER BY due_at, id LIMIT 200"
    )
    runs, claims = [], []
    fired = 0
    for _ in range(5):
        _load_timers(db_url, ds, DUE_SHARE)
        claims.append(raw.query_timing([(claim_sql, None)], db_url, seconds=1).p50_ms)
        started = time.perf_counter()
        fired = fire_due_timers()
        runs.append(time.perf_counter() - started)
    plan = raw.explain(db_url, claim_sql, None)
    _load_timers(db_url, ds, 1.0)
    started = time.perf_counter()
    fired_all = fire_due_timers()
    all_seconds = time.perf_counter() - started
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("DELETE FROM runtime_timer WHERE kind = 'bench.noop'")
    p50 = statistics.median(runs)
    report.details["timers"] = {
        "runs_s": runs,
        "fired_per_run": fired,
        "claim_p50_ms": claims,
        "plan": plan,
        "all_due": {"fired": fired_all, "seconds": all_seconds},
    }
    report.rows += [
        kit.Row(
            f"5. due-timer scan ({TIMERS:,} timers, {fired:,} due) median of 5",
            round(p50, 3),
            "s",
            "<= 1",
            f"scan SQL (200 ids) p50 {statistics.median(claims):.2f} ms",
            p50 <= 1 and fired == int(TIMERS * DUE_SHARE),
            ""
            if fired == int(TIMERS * DUE_SHARE)
            else f"fired {fired}, expected {int(TIMERS * DUE_SHARE)}",
        ),
        kit.Row(
            f"5. all {TIMERS:,} timers due at once",
            round(all_seconds, 2),
            "s",
            "-",
            f"{fired_all / all_seconds:,.0f} timers/s" if all_seconds else "",
            None,
        ),
    ]
