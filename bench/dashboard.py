"""Figure 8: a dashboard of 6 widgets over 1,000,000 store visits (issue 5).

Set-up, through Dajian's own services where there is one: the app ``bench_visits`` with
the ``visit`` form (store, level, region, amount, visit time, shelf share, photos and
three summary texts: ~1 KB of JSON), its 4-stage workflow (planned → checked in →
reported → verified, so a funnel exists), an org chart of a sales director over 5 team
leads with 10 reps each (the 50 reps own the visits) and
``BENCH_DASHBOARD_RECORDS`` visits (default 1,000,000) loaded with ``COPY``; 30 % of
them carry the flag ``pending_verification`` (more in some regions). Then the dashboard
``store_visits`` is published with ``save_dashboard(..., publish=True)``, which promotes
the fields its widgets use (``region``, ``amount``, ``visited_at``) into typed fact
columns and backfills them. The data stay between runs (reloaded when their fingerprint
changes); the first publish after a load is timed.

The six widgets: a KPI ratio (valid visits of the last 30 days, green ≥ 65 %, yellow
≥ 45 %), valid-visit ratio by region (bar), visits and amount by month of the visit
(line), visits and amount by stage (funnel), visits and amount per rep with the team
average (radar), visits per rep × weekday (heatmap).

Measured in-process: ``dashboard_data(director, "bench_visits", "store_visits")``,
``BENCH_DASHBOARD_RUNS`` runs (at least 7, default 9) after one warm-up, p50 and p90:
(a) as published (facts), (b) with ``dashboard_data``'s switch ``facts=False`` (every
widget reads the records' JSON), both at the same fixed ``now``; the two must give the
same figures. Raw baselines in the same run: the same six aggregates
as hand-written SQL over ``runtime_record`` (JSON) and over ``runtime_recordfact``,
p50 of each query over as many runs. Evidence: ``EXPLAIN (ANALYZE, BUFFERS)`` of every
query one dashboard computation sent, in each mode (``bench/results/``).
"""

from __future__ import annotations

import hashlib
import inspect
import io
import itertools
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from cpu_accounting import CpuWindow, _flag_other, _quiet

APP_KEY = "bench_visits"
APP_NAME = {"zh-CN": "门店拜访（基准）", "en": "Store visits (benchmark)"}
FORM_KEY = "visit"
DASHBOARD_KEY = "store_visits"
DATA_VERSION = "1"
TARGET_S = 1.0
TEAMS = 5
REPS_PER_TEAM = 10
POOL_SIZE = 5_000
TIME_ZONE = "Asia/Shanghai"
PENDING = "pending_verification"
PROMOTED_FIELDS = ("region", "amount", "visited_at")
STAGES = [
    ("planned", "计划", "Planned"),
    ("checked_in", "已签到", "Checked in"),
    ("reported", "已提交", "Reported"),
    ("verified", "已核实", "Verified"),
]
STAGE_SHARES = [0.15, 0.20, 0.30, 0.35]
# region → (share of visits, share pending verification)
REGIONS = {
    "east": (0.24, 0.22),
    "south": (0.20, 0.28),
    "north": (0.18, 0.31),
    "central": (0.14, 0.35),
    "west": (0.10, 0.40),
    "northeast": (0.08, 0.33),
    "southwest": (0.06, 0.45),
}
LEVELS = ["A", "B", "C"]
CITIES = ["上海", "杭州", "南京", "广州", "深圳", "北京", "天津", "武汉", "成都", "西安", "沈阳"]
STORE_WORDS = ["华联", "好又多", "百佳", "永辉", "联华", "家家乐", "美宜佳", "便利蜂", "罗森"]
PRODUCTS = ["冰红茶", "矿泉水", "方便面", "薯片", "酸奶", "咖啡", "果汁", "饼干", "口香糖"]
COPY_COLUMNS = (
    "workspace_id, form_id, form_version_id, stage, stage_entered_at, status, owner_id, "
    "created_by_id, updated_by_id, created_at, updated_at, version, data, flags, "
    "idempotency_key"
)


def _label(zh: str, en: str) -> dict[str, str]:
    return {"zh-CN": zh, "en": en}


def form_definition() -> dict[str, Any]:
    def select(key: str, zh: str, en: str, values: list[str]) -> dict[str, Any]:
        choices = [{"value": v, "label": _label(v, v.title())} for v in values]
        return {"key": key, "type": "single_select", "label": _label(zh, en), "choices": choices}

    return {
        "key": FORM_KEY,
        "name": _label("门店拜访", "Store visit"),
        "fields": [
            {"key": "store", "type": "text", "label": _label("门店", "Store"), "required": True},
            select("level", "门店等级", "Store level", LEVELS),
            select("region", "区域", "Region", list(REGIONS)),
            {"key": "city", "type": "text", "label": _label("城市", "City")},
            {"key": "amount", "type": "money", "label": _label("订单金额", "Order amount")},
            {"key": "visited_at", "type": "datetime", "label": _label("拜访时间", "Visited at")},
            {"key": "shelf_share", "type": "percent", "label": _label("货架占比", "Shelf share")},
            {"key": "photos", "type": "number", "label": _label("照片数", "Photos")},
            {"key": "products", "type": "text", "label": _label("主推产品", "Products")},
            {"key": "summary", "type": "long_text", "label": _label("拜访总结", "Summary")},
            {"key": "problems", "type": "long_text", "label": _label("发现问题", "Problems")},
            {"key": "next_plan", "type": "long_text", "label": _label("下一步计划", "Next plan")},
        ],
        "title_fields": ["store"],
        "permissions": [
            {"role": "rep", "create": True, "read": "own", "update": "own", "delete": "none"},
            {"role": "lead", "create": True, "read": "team", "update": "team", "delete": "none"},
            {
                "role": "director",
                "create": False,
                "read": "team",
                "update": "none",
                "delete": "none",
            },
        ],
    }


def workflow_definition() -> dict[str, Any]:
    keys = [s[0] for s in STAGES]
    return {
        "schema_version": 1,
        "initial": keys[0],
        "stages": [{"key": k, "label": _label(zh, en)} for k, zh, en in STAGES],
        "transitions": [{"from": a, "to": b} for a, b in itertools.pairwise(keys)],
    }


def _valid() -> dict[str, Any]:
    return {"filter": {"not": {"field": "flags", "op": "contains", "value": PENDING}}}


def dashboard_definition() -> dict[str, Any]:
    amount = {
        "key": "amount",
        "function": "sum",
        "field": "amount",
        "label": _label("金额", "Amount"),
    }
    visits = {"key": "visits", "function": "count", "label": _label("拜访数", "Visits")}
    rate = {"key": "rate", "function": "ratio", "numerator": _valid(), "denominator": {}}
    return {
        "schema_version": 1,
        "name": _label("门店拜访看板", "Store visits"),
        "widgets": [
            {
                "key": "valid_visit_rate",
                "type": "kpi",
                "title": _label("近30天有效拜访率", "Valid visits, last 30 days"),
                "form": FORM_KEY,
                "filter": {"field": "created_at", "op": "gte", "value": {"ago": {"days": 30}}},
                "measures": [rate],
                "thresholds": {"green": 0.65, "yellow": 0.45},
                "format": "percent",
            },
            {
                "key": "valid_by_region",
                "type": "bar",
                "title": _label("各区域有效拜访占比", "Valid visits by region"),
                "form": FORM_KEY,
                "measures": [rate],
                "group_by": [{"field": "region"}],
                "sort": "value_desc",
                "limit": 20,
                "format": "percent",
            },
            {
                "key": "visits_by_month",
                "type": "line",
                "title": _label("每月拜访", "Visits by month"),
                "form": FORM_KEY,
                "measures": [visits, amount],
                "group_by": [{"field": "visited_at", "bucket": "month"}],
                "sort": "key",
            },
            {
                "key": "visit_funnel",
                "type": "funnel",
                "title": _label("拜访漏斗", "Visit funnel"),
                "form": FORM_KEY,
                "measures": [visits, amount],
                "group_by": [{"field": "stage"}],
            },
            {
                "key": "rep_radar",
                "type": "radar",
                "title": _label("销售代表对比", "Reps against the team"),
                "form": FORM_KEY,
                "measures": [visits, amount],
                "group_by": [{"field": "owner"}],
                "compare": "team_average",
                "limit": 100,
            },
            {
                "key": "weekday_heatmap",
                "type": "heatmap",
                "title": _label("拜访热力图", "Visits by weekday"),
                "form": FORM_KEY,
                "measures": [visits],
                "group_by": [{"field": "owner"}, {"field": "created_at", "bucket": "weekday"}],
                "limit": 100,
            },
        ],
    }


# --- data -----------------------------------------------------------------------------------


def fingerprint(count: int) -> str:
    """What the loaded visits depend on: their form, workflow, generator and count."""
    digest = hashlib.sha256(DATA_VERSION.encode())
    for part in (form_definition(), workflow_definition(), STAGE_SHARES, REGIONS, count):
        digest.update(json.dumps(part, sort_keys=True, ensure_ascii=False).encode())
    for function in (_pool, load_visits):
        digest.update(inspect.getsource(function).encode())
    return digest.hexdigest()


def _meta(db_url: str, key: str, value: str | None = None) -> str | None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        if value is not None:
            conn.execute(
                "INSERT INTO bench_meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )
            return value
        row = conn.execute("SELECT value FROM bench_meta WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def setup_metadata(ctx: dict[str, Any]) -> dict[str, Any]:
    """App, form, workflow, roles and the org chart (idempotent); returns ids."""
    from django.contrib.auth import get_user_model

    from dajian.builder.models import App, Form
    from dajian.builder.services.forms import create_app, publish_form, save_form_draft
    from dajian.builder.services.metadata import save_workflow
    from dajian.platform.models import Membership, OrgUnit, Role, Workspace
    from dajian.platform.org import create_org_unit

    actor = ctx["actor"]
    workspace = Workspace.objects.get(pk=ctx["ds"].workspace_id)
    if workspace.time_zone != TIME_ZONE:
        workspace.time_zone = TIME_ZONE
        workspace.save(update_fields=["time_zone"])
    users = get_user_model().objects
    roles = {
        key: Role.objects.get_or_create(workspace=workspace, key=key, defaults={"name": key})[0]
        for key in ("rep", "lead", "director")
    }

    def member(username: str, role: str, unit: OrgUnit | None) -> Any:
        user = users.filter(username=username).first() or users.create_user(username=username)
        membership, _ = Membership.objects.get_or_create(
            workspace=workspace, user=user, defaults={"org_unit": unit}
        )
        membership.roles.add(roles[role])
        return user

    def unit(name: str, parent: OrgUnit | None, manager: Any) -> OrgUnit:
        found = OrgUnit.objects.filter(workspace=workspace, name=name).first()
        return found or create_org_unit(workspace, name, parent=parent, manager=manager)

    director = member("dash_director", "director", None)
    root = unit("全国销售部", None, director)
    Membership.objects.filter(workspace=workspace, user=director).update(org_unit=root)
    reps = []
    for t in range(TEAMS):
        lead = member(f"dash_lead_{t + 1}", "lead", None)
        team = unit(f"销售{t + 1}组", root, lead)
        Membership.objects.filter(workspace=workspace, user=lead).update(org_unit=team)
        reps += [member(f"dash_rep_{t + 1}_{i + 1:02d}", "rep", team) for i in range(REPS_PER_TEAM)]

    if not App.objects.filter(workspace=workspace, key=APP_KEY).exists():
        create_app(actor, APP_KEY, APP_NAME)
    definition = form_definition()
    form = (
        Form.objects.select_related("published")
        .filter(workspace=workspace, app__key=APP_KEY, key=FORM_KEY)
        .first()
    )
    stored = form.published.definition if form and form.published else None
    if stored is None or {k: v for k, v in stored.items() if k != "schema_version"} != definition:
        save_form_draft(actor, APP_KEY, FORM_KEY, definition)
        publish_form(actor, APP_KEY, FORM_KEY)
    form = Form.objects.select_related("published").get(
        workspace=workspace, app__key=APP_KEY, key=FORM_KEY
    )
    if form.workflow_id is None:
        save_workflow(actor, APP_KEY, FORM_KEY, workflow_definition(), publish=True)
    return {
        "workspace_id": workspace.pk,
        "form_id": form.pk,
        "form_version_id": form.published_id,
        "director_id": director.pk,
        "rep_ids": [r.pk for r in reps],
        "form": form,
    }


def _pool(form: Any, size: int, seed: int = 23) -> list[tuple[str, str]]:
    """``size`` visits as (region, compact JSON with a ``__VISITED_AT__`` placeholder),
    normalised by each field type's ``clean``."""
    from dajian.builder.definitions import FormDefinition

    definition = FormDefinition(form.published.definition)
    rng = random.Random(seed)
    regions = rng.choices(list(REGIONS), weights=[s for s, _ in REGIONS.values()], k=size)
    pool = []
    for region in regions:
        city = rng.choice(CITIES)
        store = f"{city}{rng.choice(STORE_WORDS)}{rng.randint(1, 300)}号店"
        sold = "、".join(rng.sample(PRODUCTS, 3))
        data = {
            "store": store,
            "level": rng.choices(LEVELS, weights=[2, 5, 3])[0],
            "region": region,
            "city": city,
            "amount": round(rng.uniform(0, 20000), 2) if rng.random() < 0.7 else 0,
            "visited_at": "2026-01-01T00:00:00Z",
            "shelf_share": round(rng.uniform(0.05, 0.6), 4),
            "photos": rng.randint(0, 6),
            "products": sold,
            "summary": f"拜访{store}，店长反馈{sold}本周动销良好，冷柜陈列位置靠近收银台，"
            f"堆头已按标准布置；竞品{rng.choice(PRODUCTS)}正在做买二送一促销，对我方影响明显。"
            f"已与店长确认下周补货数量约{rng.randint(5, 80)}箱，并约定月底前完成新品试吃活动。",
            "problems": f"货架第{rng.randint(1, 5)}层缺货，价签与系统价格不一致，"
            "部分产品临近保质期需要退换；促销海报被遮挡，需要门店配合调整。",
            "next_plan": f"下次拜访前准备{rng.choice(PRODUCTS)}新品资料，跟进补货到店情况，"
            "检查促销执行并拍照留档，同时了解竞品价格变化；与店长沟通下季度陈列协议续签，"
            f"争取增加{rng.randint(1, 4)}个端架位置。",
        }
        cleaned = {k: definition.field_types[k].clean(v) for k, v in data.items()}
        text = json.dumps(cleaned, ensure_ascii=False, separators=(",", ":"))
        pool.append((region, text.replace("2026-01-01T00:00:00Z", "__VISITED_AT__")))
    return pool


def load_visits(db_url: str, meta: dict[str, Any], count: int, log: Any) -> None:
    """Replace the form's visits (and facts) with ``count`` generated ones by COPY."""
    from dajian.runtime.models import FormPromotion, RecordFact

    pool = _pool(meta["form"], POOL_SIZE)
    rng = random.Random(29)
    stage_keys = [s[0] for s in STAGES]
    reps = meta["rep_ids"]
    rep_weights = [rng.uniform(0.5, 1.5) for _ in reps]
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(days=365)
    step = (end - start).total_seconds() / count
    form_id = meta["form_id"]
    FormPromotion.objects.filter(form_id=form_id).delete()
    with psycopg.connect(db_url, autocommit=True) as conn:
        # Nothing refers to the bench's visits: skip the per-row triggers (foreign keys,
        # and the facts trigger, whose facts go in one statement below).
        conn.execute("SET session_replication_role = replica")
        removed = conn.execute("DELETE FROM runtime_record WHERE form_id = %s", (form_id,))
        conn.execute(f"DELETE FROM {RecordFact._meta.db_table} WHERE form_id = %s", (form_id,))
        conn.execute("SET session_replication_role = DEFAULT")
        if removed.rowcount:
            # a reload with another count: give back the pages of the old visits, so
            # that scans of the new ones do not read them
            started = time.monotonic()
            conn.execute(f"VACUUM (FULL) runtime_record, {RecordFact._meta.db_table}")
            log(f"removed {removed.rowcount:,} old visits: {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        # Known-valid rows: skip the per-row foreign-key triggers, as bench/dataset.py
        # does (and the facts trigger: publishing the dashboard backfills the facts).
        conn.execute("SET session_replication_role = replica")
        prefix = f"{meta['workspace_id']}\t{form_id}\t{meta['form_version_id']}\t"
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY runtime_record ({COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            buffer = io.StringIO()
            owners = rng.choices(reps, weights=rep_weights, k=count)
            stages = rng.choices(stage_keys, weights=STAGE_SHARES, k=count)
            for i in range(count):
                created = datetime.fromtimestamp(
                    start.timestamp() + i * step + rng.random() * step * 0.9, UTC
                )
                visited = created - timedelta(minutes=rng.randint(0, 240))
                region, text = pool[rng.randrange(POOL_SIZE)]
                data = text.replace("__VISITED_AT__", visited.strftime("%Y-%m-%dT%H:%M:%SZ"))
                flags = f'["{PENDING}"]' if rng.random() < REGIONS[region][1] else "[]"
                stamp, owner = created.isoformat(), owners[i]
                buffer.write(
                    f"{prefix}{stages[i]}\t{stamp}\tactive\t{owner}\t{owner}\t{owner}\t"
                    f"{stamp}\t{stamp}\t1\t{data.replace(chr(92), chr(92) * 2)}\t{flags}\t\\N\n"
                )
                if i % 20_000 == 19_999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
                if i % 200_000 == 199_999:
                    log(f"  {i + 1:,} visits ({time.monotonic() - started:.0f} s)")
            copy.write(buffer.getvalue())
        conn.execute("SET session_replication_role = DEFAULT")
        log(f"COPY {count:,} visits: {time.monotonic() - started:.1f} s")
        conn.execute("VACUUM (ANALYZE) runtime_record")


def publish_dashboard(ctx: dict[str, Any], meta: dict[str, Any], report: Any) -> float:
    """``save_dashboard(..., publish=True)``, whose publish hook promotes the fields the
    widgets read (and backfills their facts); seconds. A dashboard already published
    with the same content is not published again: after a reload of the visits its
    fields are then promoted directly."""
    from dajian.builder.models import Metadata, MetadataKind
    from dajian.builder.services.metadata import save_dashboard
    from dajian.runtime.dashboards.facts import promote, promoted_columns

    def version() -> int | None:
        return (
            Metadata.objects.filter(
                workspace_id=meta["workspace_id"],
                kind=MetadataKind.DASHBOARD,
                app__key=APP_KEY,
                key=DASHBOARD_KEY,
            )
            .values_list("published_id", flat=True)
            .first()
        )

    before = version()
    started = time.perf_counter()
    save_dashboard(ctx["actor"], APP_KEY, DASHBOARD_KEY, dashboard_definition(), publish=True)
    seconds = time.perf_counter() - started
    if promoted_columns(meta["form"]) is None:
        if version() != before:
            report.problems.append(
                "figure 8: publishing the dashboard did not promote its fields (is the "
                "publish hook calling facts.promote registered?); promoted here instead"
            )
        started = time.perf_counter()
        promote(meta["form"], PROMOTED_FIELDS)
        seconds += time.perf_counter() - started
    return seconds


# --- measuring ------------------------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _time_dashboard(
    meta: dict[str, Any], runs: int, use_facts: bool, now: datetime
) -> tuple[list[float], dict[str, Any]]:
    """Seconds of each of ``runs`` computations (after a warm-up), and the last result.
    Each run uses a new actor, as a new request would; ``now`` is fixed so that both
    modes count the same "last 30 days"."""
    from django.contrib.auth import get_user_model

    from dajian.platform.actors import actor_for
    from dajian.platform.models import Workspace
    from dajian.runtime.dashboards import compute

    user = get_user_model().objects.get(pk=meta["director_id"])
    workspace = Workspace.objects.get(pk=meta["workspace_id"])

    def run() -> dict[str, Any]:
        actor = actor_for(user, workspace)
        return compute.dashboard_data(actor, APP_KEY, DASHBOARD_KEY, now=now, facts=use_facts)

    result = run()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def _plans(meta: dict[str, Any], use_facts: bool, now: datetime) -> list[dict[str, Any]]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of every statement of one computation that reads
    records or facts."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings

    from dajian.platform.actors import actor_for
    from dajian.platform.models import Workspace
    from dajian.runtime.dashboards import compute

    actor = actor_for(
        get_user_model().objects.get(pk=meta["director_id"]),
        Workspace.objects.get(pk=meta["workspace_id"]),
    )
    # one widget after the other: the queries of helper threads' connections would not
    # be captured
    serial = {**settings.DAJIAN, "DASHBOARD_THREADS": 1}
    with override_settings(DAJIAN=serial), CaptureQueriesContext(connection) as captured:
        compute.dashboard_data(actor, APP_KEY, DASHBOARD_KEY, now=now, facts=use_facts)
    plans = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        if '"runtime_record"' not in sql and '"runtime_recordfact"' not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            lines = [row[0] for row in cursor.fetchall()]
        took = next((ln for ln in reversed(lines) if ln.startswith("Execution Time")), "")
        plans.append(
            {
                "query_ms": round(float(query["time"]) * 1000, 1),
                "execution": took,
                "sql": sql[:2000],
                "plan": lines,
            }
        )
    return plans


def raw_queries(meta: dict[str, Any], columns: dict[str, str]) -> dict[str, list[str]]:
    """The six widgets' aggregates as hand-written SQL over the JSON and over facts (the
    facts' months and weekdays from their local-date columns, as the dashboard reads
    them; no row scope: the director sees every visit)."""
    ws, form = int(meta["workspace_id"]), int(meta["form_id"])
    zone = f"'{TIME_ZONE}'"
    valid = f"NOT (flags @> '[\"{PENDING}\"]'::jsonb)"
    recent = "created_at >= now() - interval '30 days'"

    def six(table: str, region: str, amount: str, month: str, weekday: str) -> list[str]:
        where = f"FROM {table} WHERE workspace_id = {ws} AND form_id = {form}"
        return [
            f"SELECT count(*) FILTER (WHERE {valid}), count(*) {where} AND {recent}",
            f"SELECT {region}, count(*) FILTER (WHERE {valid}), count(*) {where} GROUP BY 1",
            f"SELECT {month}, count(*), sum({amount}) {where} GROUP BY 1",
            f"SELECT stage, count(*), sum({amount}) {where} GROUP BY 1",
            f"SELECT owner_id, count(*), sum({amount}) {where} GROUP BY 1",
            f"SELECT owner_id, {weekday}, count(*) {where} GROUP BY 1, 2",
        ]

    visited_on = f"{columns.get('visited_at', 'd1')}_on"
    return {
        "json": six(
            "runtime_record",
            "data ->> 'region'",
            "(data ->> 'amount')::numeric",
            f"date_trunc('month', (data ->> 'visited_at')::timestamptz AT TIME ZONE {zone})",
            f"extract(isodow FROM created_at AT TIME ZONE {zone})",
        ),
        "facts": six(
            "runtime_recordfact",
            columns.get("region", "NULL"),
            columns.get("amount", "NULL"),
            f"date_trunc('month', {visited_on}::timestamp)",
            "(created_on - DATE '0001-01-01') % 7",
        ),
    }


def _time_raw(db_url: str, queries: list[str], runs: int) -> list[float]:
    """p50 seconds of each query over ``runs`` runs (after one warm-up)."""
    out = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        for sql in queries:
            conn.execute(sql).fetchall()
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                conn.execute(sql).fetchall()
                times.append(time.perf_counter() - started)
            out.append(statistics.median(times))
    return out


def _comparable(result: dict[str, Any]) -> str:
    """The figures, without the note of which source each widget read."""
    figures = {k: v for k, v in result.items() if k != "sources"}
    return json.dumps(figures, sort_keys=True, ensure_ascii=False, default=str)


def _funnel_total(result: dict[str, Any]) -> int | None:
    """The visits the funnel widget counts over all its stages (None if unreadable)."""
    try:
        funnel = next(w for w in result["widgets"] if w["key"] == "visit_funnel")
        return sum(int(row["values"]["visits"]) for row in funnel["data"]["rows"])
    except (KeyError, StopIteration, TypeError, ValueError):
        return None


def figure_dashboard(ctx: dict[str, Any], report: Any, kit: Any) -> None:
    from dajian.runtime.dashboards.facts import promoted_columns

    db_url = ctx["db_url"]
    count = int(os.environ.get("BENCH_DASHBOARD_RECORDS", "1000000"))
    runs = max(7, int(os.environ.get("BENCH_DASHBOARD_RUNS", "9")))
    meta = setup_metadata(ctx)
    wanted = fingerprint(count)
    if _meta(db_url, "dashboard_fingerprint") != wanted:
        kit.log(f"figure 8: loading {count:,} store visits (once; kept under var/bench/)")
        _meta(db_url, "dashboard_fingerprint", "loading")
        load_visits(db_url, meta, count, kit.log)
        publish_s = publish_dashboard(ctx, meta, report)
        kit.log(f"published the dashboard, promoting and backfilling: {publish_s:.1f} s")
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE) runtime_recordfact")
        _meta(db_url, "dashboard_publish_s", f"{publish_s:.2f}")
        _meta(db_url, "dashboard_fingerprint", wanted)
    else:
        publish_dashboard(ctx, meta, report)  # no change: promotion and facts stay
    publish_s = float(_meta(db_url, "dashboard_publish_s") or "nan")
    columns = promoted_columns(meta["form"]) or {}
    kit.log(f"figure 8: dashboard of 6 widgets over {count:,} visits, promoted {columns}")

    now = datetime.now(UTC)
    _quiet(ctx, report, kit, "figure 8 (dashboard, facts)")
    window = CpuWindow({"postgres": ctx["pg_pid"]}).start()
    facts_s, facts_result = _time_dashboard(meta, runs, True, now)
    cpu_facts = window.stop(runs)
    _flag_other(report, kit, "figure 8 (dashboard, facts)", cpu_facts)
    facts_plans = _plans(meta, True, now)

    # the JSON path: dashboard_data's documented switch facts=False
    _quiet(ctx, report, kit, "figure 8 (dashboard, JSON)")
    window = CpuWindow({"postgres": ctx["pg_pid"]}).start()
    json_s, json_result = _time_dashboard(meta, runs, False, now)
    cpu_json = window.stop(runs)
    _flag_other(report, kit, "figure 8 (dashboard, JSON)", cpu_json)
    json_plans = _plans(meta, False, now)
    if not any('"runtime_recordfact"' in p["sql"] for p in facts_plans):
        raise kit.FigureFailed("the dashboard did not read the promoted facts")
    if any('"runtime_recordfact"' in p["sql"] for p in json_plans):
        raise kit.FigureFailed("dashboard_data(facts=False) still read the facts")

    queries = raw_queries(meta, columns)
    raw = {mode: _time_raw(db_url, sql, runs) for mode, sql in queries.items()}
    with psycopg.connect(db_url, autocommit=True) as conn:
        total = conn.execute(
            "SELECT count(*) FROM runtime_record WHERE form_id = %s", (meta["form_id"],)
        ).fetchone()[0]
        facts_rows = conn.execute(
            "SELECT count(*) FROM runtime_recordfact WHERE form_id = %s", (meta["form_id"],)
        ).fetchone()[0]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("max_parallel_workers_per_gather", "work_mem", "shared_buffers", "jit")
        }

    widgets = len((facts_result or {}).get("widgets") or [])
    same = _comparable(facts_result) == _comparable(json_result)
    problems = []
    if widgets != 6:
        problems.append(f"dashboard_data returned {widgets} widgets, expected 6")
    if not same:
        problems.append("the facts and the JSON paths gave different figures")
    if facts_rows != total:
        problems.append(f"{facts_rows:,} facts for {total:,} visits")
    counted = _funnel_total(facts_result)
    if counted != total:
        problems.append(f"the funnel counts {counted} visits of {total:,}")
    for problem in problems:
        report.problems.append(f"figure 8: {problem}")

    p50, p90 = statistics.median(facts_s), _percentile(facts_s, 90)
    jp50, jp90 = statistics.median(json_s), _percentile(json_s, 90)
    raw_facts, raw_json = sum(raw["facts"]), sum(raw["json"])
    report.details["dashboard"] = {
        "records": total,
        "facts_rows": facts_rows,
        "promoted_columns": columns,
        "runs": runs,
        "facts_seconds": [round(s, 4) for s in facts_s],
        "json_seconds": [round(s, 4) for s in json_s],
        "publish_with_backfill_s": publish_s,
        "raw_sql": queries,
        "raw_p50_s": {k: [round(s, 4) for s in v] for k, v in raw.items()},
        "cpu_per_run": {"facts": cpu_facts, "json": cpu_json},
        "postgres_settings": settings,
        "plans": {"facts": facts_plans, "json": json_plans},
        "results_equal": same,
        "problems": problems,
    }
    note = "; ".join(problems)
    scope = f"{total:,} visits, 6 widgets, director's scope = all"
    report.rows += [
        kit.Row(
            f"8. dashboard p50, promoted facts ({scope})",
            round(p50, 3),
            "s",
            f"<= {TARGET_S:g}",
            f"raw SQL over facts {raw_facts:.3f} s (6 queries, p50 each)",
            p50 <= TARGET_S and not problems,
            note,
        ),
        kit.Row("8. dashboard p90, promoted facts", round(p90, 3), "s", "-", "", None),
        kit.Row(
            "8. dashboard p50, JSON (promotion off: before)",
            round(jp50, 3),
            "s",
            f"<= {TARGET_S:g}",
            f"raw SQL over JSON {raw_json:.3f} s (6 queries, p50 each)",
            None,
        ),
        kit.Row("8. dashboard p90, JSON (promotion off)", round(jp90, 3), "s", "-", "", None),
        kit.Row(
            f"8. publish + promote + backfill of {total:,} visits (at load)",
            round(publish_s, 2),
            "s",
            "-",
            "",
            None,
        ),
    ]


def print_evidence(details: dict[str, Any]) -> None:
    info = details.get("dashboard")
    if not info:
        return
    print(
        f"\n  dashboard: {info['records']:,} visits, {info['facts_rows']:,} facts, promoted "
        f"{info['promoted_columns']}; runs (s) facts {info['facts_seconds']}, JSON "
        f"{info['json_seconds']}; PostgreSQL {info['postgres_settings']}"
    )
    for mode in ("facts", "json"):
        print(f"    raw SQL p50 per widget ({mode}): {info['raw_p50_s'][mode]}")
        for plan in info["plans"][mode]:
            first = next((ln.strip() for ln in plan["plan"] if ln.strip()), "")
            print(f"    {mode} query {plan['query_ms']} ms, {plan['execution']}: {first[:110]}")
