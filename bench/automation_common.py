"""What figures 6 and 7 (automations, issue 4) share: their constants, the automations
they publish, publishing and unpublishing them as the bench's admin, deleting what their
runs wrote, an in-process CPU profile, and the evidence printed under the table.

Figure 6 is in ``automation_scan.py``, figure 7 in ``automation_events.py``.
"""

from __future__ import annotations

import cProfile
import time
from pathlib import Path
from typing import Any

import forms as bench_forms
import psycopg

SCAN_KEY = "bench_demo_daily"
SCAN_STAGE = "demo"
SCAN_THRESHOLD = 50000.0
SCAN_CONDITION = f"amount >= {SCAN_THRESHOLD}"
SCAN_TARGET_S = 10.0
EVENTS_KEY = "bench_big_deal_created"
EVENTS_THRESHOLD = 500000.0
EVENTS_CONDITION = f"amount >= {EVENTS_THRESHOLD}"
EVENTS_TARGET = 200.0
PROFILE_BATCHES = 10
PROFILE_EVENTS = 200

DIGEST = {
    "zh-CN": "今天有 {{ count }} 个演示阶段的大额商机需要跟进："
    "{% for r in records[:10] %}\n- {{ r.customer_name }}（{{ r.amount }}）{{ r.url }}{% endfor %}",
    "en": "{{ count }} large deals in demo to follow up today:"
    "{% for r in records[:10] %}\n- {{ r.customer_name }} ({{ r.amount }}) {{ r.url }}{% endfor %}",
}
BIG_DEAL = {
    "zh-CN": "新的大额商机：{{ customer_name }}（{{ amount }}）",
    "en": "New large deal: {{ customer_name }} ({{ amount }})",
}


def scan_definition() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "form": bench_forms.DEAL_FORM,
        "label": {"zh-CN": "每日演示商机跟进", "en": "Daily demo follow-up"},
        "trigger": {"type": "schedule", "cron": "0 8 * * *"},
        "filter": {"field": bench_forms.SELECT_FIELD, "op": "eq", "value": SCAN_STAGE},
        "condition": SCAN_CONDITION,
        "actions": [
            {"type": "notify", "to": [{"type": "owner"}], "message": DIGEST, "digest": True}
        ],
    }


def events_definition() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "form": bench_forms.DEAL_FORM,
        "label": {"zh-CN": "大额商机提醒", "en": "Large deal alert"},
        "trigger": {"type": "record_created"},
        "condition": EVENTS_CONDITION,
        "actions": [{"type": "notify", "to": [{"type": "owner"}], "message": BIG_DEAL}],
    }


# --- publishing, clean-up and profiling -------------------------------------------------


def _publish(ctx: dict[str, Any], key: str, definition: dict[str, Any]) -> Any:
    from dajian.builder.services.metadata import save_automation

    return save_automation(ctx["actor"], ctx["ds"].app_key, key, definition, publish=True)


def _unpublish(ctx: dict[str, Any], key: str) -> None:
    from dajian.builder.models import Metadata, MetadataKind
    from dajian.builder.services.metadata import unpublish_metadata

    app_key = ctx["ds"].app_key
    published = Metadata.objects.filter(
        kind=MetadataKind.AUTOMATION, app__key=app_key, key=key, published__isnull=False
    )
    if published.filter(workspace_id=ctx["ds"].workspace_id).exists():
        unpublish_metadata(ctx["actor"], MetadataKind.AUTOMATION, app_key, key)


def _tables() -> dict[str, str]:
    from dajian.runtime.models import ActionExecution, AutomationRun, Notification, OutboxEvent

    return {
        "execution": ActionExecution._meta.db_table,
        "run": AutomationRun._meta.db_table,
        "notification": Notification._meta.db_table,
        "outbox": OutboxEvent._meta.db_table,
    }


def _source(ctx: dict[str, Any], key: str) -> str:
    """What notifications of the automation ``key`` name as their source."""
    return f"automation:{ctx['ds'].app_key}.{key}"


def _forget_runs(db_url: str, automation_id: int, source: str) -> None:
    """Delete what runs of the automation wrote (executions, notifications, runs)."""
    t = _tables()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(f"DELETE FROM {t['execution']} WHERE automation_id = %s", (automation_id,))
        conn.execute(
            f"DELETE FROM {t['notification']} WHERE payload ->> 'automation' = %s", (source,)
        )
        conn.execute(f"DELETE FROM {t['run']} WHERE automation_id = %s", (automation_id,))
        for table in (t["execution"], t["notification"], t["run"]):
            conn.execute(f"VACUUM (ANALYZE) {table}")


def _profile(work: Any, out_file: Path, units: int, unit: str, top: int = 30) -> dict[str, Any]:
    """cProfile (CPU time) of ``work()``, written to ``out_file``; the top own-time
    functions per ``unit``."""
    profiler = cProfile.Profile(time.process_time)
    started, cpu = time.perf_counter(), time.process_time()
    profiler.enable()
    try:
        work()
    finally:
        profiler.disable()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    from hotspots import _short, write_profile

    stats = write_profile(
        profiler,
        out_file,
        f"{units} {unit}s under cProfile (CPU-time profile): {elapsed * 1000 / units:.3f} ms "
        f"wall, {cpu * 1000 / units:.3f} ms CPU of this process each\n\n",
        top,
    )

    rows = stats.stats.items()  # type: ignore[attr-defined]
    own = sorted(
        ((s[2], s[3], s[1], f"{_short(f)}:{n}({fn})") for (f, n, fn), s in rows), reverse=True
    )
    ours = sorted(
        ((s[3], s[1], f"{_short(f)}:{n}({fn})") for (f, n, fn), s in rows if "/dajian/" in f),
        reverse=True,
    )
    return {
        "unit": unit,
        "units": units,
        "cpu_ms_per_unit_profiled": round(cpu * 1000 / units, 3),
        "top_own_time": [
            {
                "function": where,
                "own_ms_per_unit": round(tot * 1000 / units, 4),
                "calls_per_unit": round(calls / units, 2),
            }
            for tot, _cum, calls, where in own[:12]
        ],
        "top_dajian_cumulative": [
            {"function": where, "cumulative_ms_per_unit": round(cum * 1000 / units, 4)}
            for cum, _calls, where in ours[:12]
        ],
        "file": str(out_file),
    }


# --- evidence printed under the table ---------------------------------------------------------


def _print_statements(pg: dict[str, Any], unit: str) -> None:
    print(
        f"    {pg['statements_per_request']} SQL statements/{unit}, "
        f"{pg['db_exec_ms_per_request']} ms in PostgreSQL/{unit}"
    )
    for stmt in pg["top"][:5]:
        print(f"      {stmt['calls_per_request']}x {stmt['mean_ms']} ms  {stmt['query'][:100]}")


def _print_profile(profile: dict[str, Any] | None) -> None:
    if not profile:
        return
    unit = profile["unit"]
    print(
        f"    in-process cProfile ({profile['units']} {unit}s): "
        f"{profile['cpu_ms_per_unit_profiled']} ms CPU/{unit}; most own CPU time:"
    )
    for item in profile["top_own_time"][:8]:
        print(
            f"      {item['own_ms_per_unit']:>9} ms  {item['calls_per_unit']:>8}x"
            f"  {item['function'][:100]}"
        )


def _print_cpu(cpu: dict[str, Any], unit: str) -> None:
    parts = [f"{k.replace(' ms/unit', '')} {v} ms" for k, v in cpu.items() if "ms/unit" in k]
    print(
        f"    CPU/{unit}: {', '.join(parts)}; machine busy {cpu['machine_busy_pct']}% "
        f"(other processes {cpu['other_processes_pct']}%, unattributed "
        f"{cpu['unattributed_pct']}%: processes shorter than 1 s and kernel work)"
    )
    if cpu.get("other_processes_pct", 0) > 5:
        top = ", ".join(f"{name} {pct}%" for name, pct in cpu["top_other_processes_pct"].items())
        print(f"    busiest other processes: {top}")


def print_evidence(details: dict[str, Any]) -> None:
    scan = details.get("scan")
    if scan and scan.get("runs"):
        run = scan["runs"][-1]
        print(
            f"\n  scan: {run['records_scanned']:,} scanned, {run['records_matched']:,} matched, "
            f"{run['actions_done']:,} actions in {run['seconds']} s ({run['batches']} batches); "
            f"raw SQL {scan['baseline_seconds']} s"
        )
        _print_cpu(run["cpu_per_batch"], "batch")
        _print_statements(run["postgres"], "batch")
        plan = scan.get("batch_plan") or {}
        for line in plan.get("plan", [])[:12]:
            print(f"    plan of batch 2: {line[:130]}")
        _print_profile(scan.get("profile"))
    events = details.get("events")
    if events:
        for name in ("baseline", "measured"):
            phase = events[name]
            print(
                f"\n  events ({name}): {phase['events']:,} in {phase['seconds']} s, creates "
                f"{phase['creates_per_s']}/s on {phase['producer_threads']} threads, drained "
                f"{phase['drain_after_last_create_s']} s after the last create; "
                f"{phase['postgres_sessions_per_event']} new PostgreSQL connections/event"
            )
            _print_cpu(phase["cpu_per_event"], "event")
            _print_statements(phase["postgres"], "event")
        alone = events["worker_alone"]
        print(
            f"\n  events (worker alone): {alone['events']:,} queued events drained in "
            f"{alone['seconds']} s = {alone['events_per_s']} events/s"
        )
        for name, cost in events["in_process"].items():
            print(
                f"    in-process process_outbox_event, {name}: {cost['cpu_ms_per_event']} ms "
                f"CPU/event ({cost['wall_ms_per_event']} ms wall)"
            )
        _print_profile(events.get("profile"))
