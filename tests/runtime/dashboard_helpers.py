"""Shared setup of the dashboard tests: a small sales org, a visit form and an
opportunity form with stages, records with chosen owners and times, and helpers to
publish a dashboard and to count the records behind a drill-down (fixtures:
:mod:`tests.runtime.dashboard_plugin`)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from dajian.builder.services.metadata import save_dashboard
from dajian.platform.actors import Actor
from dajian.platform.models import OrgUnit, Workspace
from dajian.platform.org import create_org_unit
from dajian.runtime.dashboards.compute import dashboard_data
from dajian.runtime.models import Record, StageEntry
from dajian.runtime.selectors import list_records
from dajian.runtime.services.records import create_record
from tests.factories import build_form, build_workflow, make_actor, make_user

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 18, 4, 0, tzinfo=dt.UTC)  # Wednesday 12:00 in Shanghai

REGIONS = [
    {"value": "north", "label": {"zh-CN": "华北", "en": "North"}},
    {"value": "south", "label": {"zh-CN": "华南", "en": "South"}},
    {"value": "east", "label": {"zh-CN": "华东", "en": "East"}},
]
VISIT_FIELDS = [
    {"key": "region", "type": "single_select", "label": "Region", "choices": REGIONS},
    {"key": "amount", "type": "money", "label": "Amount"},
    {"key": "score", "type": "number", "label": "Score", "precision": 4},
    {"key": "visited_at", "type": "datetime", "label": "Visited"},
    {"key": "due_on", "type": "date", "label": "Due"},
    {"key": "phone", "type": "phone", "label": "Phone"},
    {"key": "address", "type": "text", "label": "Address"},
    {"key": "valid", "type": "boolean", "label": "Valid"},
    {"key": "helper", "type": "user", "label": "Helper"},
    {"key": "note", "type": "long_text", "label": "Note"},
]
PERMISSIONS = [
    {"role": "rep", "create": True, "read": "own", "update": "own", "delete": "none"},
    {"role": "manager", "create": True, "read": "team", "update": "team", "delete": "none"},
]
STAGES = {
    "initial": "new",
    "stages": [
        {"key": "new", "label": {"zh-CN": "新建", "en": "New"}},
        {"key": "proposal", "label": {"zh-CN": "方案", "en": "Proposal"}},
        {"key": "negotiation", "label": {"zh-CN": "谈判", "en": "Negotiation"}},
        {"key": "won", "label": {"zh-CN": "赢单", "en": "Won"}, "terminal": True},
    ],
    "transitions": [
        {"from": "new", "to": "proposal"},
        {"from": "proposal", "to": "negotiation"},
        {"from": "negotiation", "to": "won"},
    ],
}
OPPORTUNITY_FIELDS = [
    {"key": "title", "type": "text", "label": "Title"},
    {"key": "amount", "type": "money", "label": "Amount"},
]

# Stores and shelf checks of them: grouping by a relation (a store is titled "name city").
STORE_FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "city", "type": "text", "label": "City"},
    {
        "key": "level",
        "type": "single_select",
        "label": "Level",
        "choices": [{"value": "A", "label": {"zh-CN": "A 类", "en": "Level A"}}],
    },
]
STORE_PERMISSIONS = [
    # reps read their own stores, without the city
    {"role": "rep", "create": True, "read": "own", "update": "own", "fields": {"city": "hidden"}},
    {"role": "manager", "create": True, "read": "team", "update": "team"},
]
CHECK_FIELDS = [
    {"key": "store", "type": "relation", "target": "store", "label": "Store"},
    {"key": "stores", "type": "relation", "target": "store", "label": "Stores", "multiple": True},
    {"key": "on_shelf", "type": "boolean", "label": "On shelf"},
    {"key": "facings", "type": "number", "label": "Facings"},
]
CHECK_PERMISSIONS = [
    {"role": "rep", "create": True, "read": "own", "update": "own"},
    {"role": "manager", "create": True, "read": "team", "update": "team"},
]


# --- widgets and measures -----------------------------------------------------------------


def count(key: str = "n", **options: Any) -> dict[str, Any]:
    """A measure counting the records (``options``: its own ``filter``)."""
    return {"key": key, "function": "count", **options}


def measure(key: str, function: str, field: str | None = None, **options: Any) -> dict[str, Any]:
    """A measure of ``function`` over ``field`` (``options``: ``fields`` of ``filled``...)."""
    return {"key": key, "function": function, **({"field": field} if field else {}), **options}


def ratio(
    key: str, numerator: dict[str, Any], denominator: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The share of the records (those of the ``denominator`` filter) ``numerator`` keeps."""
    return {
        "key": key,
        "function": "ratio",
        "numerator": {"filter": numerator},
        "denominator": {"filter": denominator} if denominator else {},
    }


def widget(
    key: str,
    kind: str,
    *measures: dict[str, Any],
    form: str = "visit",
    group_by: Sequence[str | dict[str, Any]] = (),
    **options: Any,
) -> dict[str, Any]:
    """A widget of ``kind`` over ``form``: ``measures`` (none: the records counted as
    ``n``), grouped by ``group_by`` (a field key, or a group with its bucket or bins);
    ``options`` are the widget's other keys (title, filter, sort, limit, thresholds...)."""
    spec: dict[str, Any] = {
        "key": key,
        "type": kind,
        "form": form,
        "measures": list(measures) or [count()],
    }
    if group_by:
        spec["group_by"] = [{"field": g} if isinstance(g, str) else g for g in group_by]
    return {**spec, **options}


NOT_PENDING = {"not": {"field": "flags", "op": "contains", "value": "pending_verification"}}
VALID_SHARE = ratio("rate", NOT_PENDING)  # the visits not waiting for verification
THRESHOLDS = {"green": 0.65, "yellow": 0.45}
TOTAL = measure("total", "sum", "amount")


def visits_kpi(green: int, yellow: int) -> dict[str, Any]:
    """The KPI ``visits``: the visits counted, titled 拜访数 (Visits)."""
    title = {"zh-CN": "拜访数", "en": "Visits"}
    return widget("visits", "kpi", title=title, thresholds={"green": green, "yellow": yellow})


ON_SHELF = {"field": "on_shelf", "op": "eq", "value": True}
BY_STORE = widget(
    "by_store",
    "bar",
    count(),
    ratio("rate", ON_SHELF),
    measure("facings", "sum", "facings"),
    form="check",
    group_by=["store"],
)


@dataclass
class Org:
    """admin; manager (East: rep1, rep2); other_mgr (West: rep3)."""

    workspace: Workspace
    actors: dict[str, Actor]
    east: OrgUnit
    west: OrgUnit
    root: OrgUnit

    def __getitem__(self, name: str) -> Actor:
        return self.actors[name]

    def user(self, name: str) -> Any:
        return self.actors[name].user


def build_org(workspace: Workspace, admin_actor: Actor) -> Org:
    manager = make_user("manager", workspace, roles=["manager"])
    other = make_user("other_mgr", workspace, roles=["manager"])
    root = create_org_unit(workspace, "Sales")
    east = create_org_unit(workspace, "East", parent=root, manager=manager)
    west = create_org_unit(workspace, "West", parent=root, manager=other)
    people = {
        "manager": manager,
        "other_mgr": other,
        "rep1": make_user("rep1", workspace, roles=["rep"], org_unit=east),
        "rep2": make_user("rep2", workspace, roles=["rep"], org_unit=east),
        "rep3": make_user("rep3", workspace, roles=["rep"], org_unit=west),
    }
    actors = {name: make_actor(user, workspace) for name, user in people.items()}
    actors["admin"] = admin_actor
    return Org(workspace, actors, east, west, root)


def build_visit_form(admin_actor: Actor) -> Any:
    return build_form(admin_actor, VISIT_FIELDS, key="visit", permissions=PERMISSIONS)


def build_opportunity_form(admin_actor: Actor) -> Any:
    form = build_form(admin_actor, OPPORTUNITY_FIELDS, key="opportunity", permissions=PERMISSIONS)
    build_workflow(admin_actor, form, STAGES)
    form.refresh_from_db()
    return form


def add(
    org: Org,
    form: Any,
    owner: str | None,
    created_at: dt.datetime = NOW - dt.timedelta(days=1),
    stage: str | None = None,
    flags: list[str] | None = None,
    **data: Any,
) -> Record:
    """A record of ``form`` owned by ``owner`` (None: the pool), created at
    ``created_at``, in ``stage``, with ``flags``."""
    system = Actor.system(org.workspace)
    owner_id = org.user(owner).pk if owner else None
    record = create_record(system, form.app.key, form.key, data, owner_id=owner_id).record
    changes: dict[str, Any] = {"created_at": created_at, "owner_id": owner_id}
    if stage is not None:
        changes["stage"] = stage
    if flags is not None:
        changes["flags"] = flags
    Record.objects.filter(pk=record.pk).update(**changes)
    StageEntry.objects.filter(record=record).delete()  # tests write the history they need
    record.refresh_from_db()
    return record


def stay(record: Record, stage: str, entered: dt.datetime, hours: float | None) -> StageEntry:
    """A stay of ``record`` in ``stage`` from ``entered`` for ``hours`` (None: still
    there)."""
    exited = entered + dt.timedelta(hours=hours) if hours is not None else None
    return StageEntry.objects.create(
        workspace_id=record.workspace_id,
        form_id=record.form_id,
        record=record,
        stage=stage,
        entered_at=entered,
        exited_at=exited,
    )


# owner, stage, amount, stays (hours; None: still there)
OPPORTUNITIES: list[tuple[str, str, int, list[tuple[str, int | None]]]] = [
    ("rep1", "proposal", 100, [("new", 5), ("proposal", None)]),
    ("rep2", "new", 40, [("new", None)]),
    ("rep3", "negotiation", 800, [("new", 1), ("proposal", 2), ("negotiation", None)]),
    ("rep1", "won", 70, [("new", 3), ("won", None)]),
]


def add_opportunities(org: Org, form: Any) -> list[Record]:
    """The :data:`OPPORTUNITIES`, each with its stays one after the other from five days
    before NOW."""
    made = []
    for owner, stage, amount, history in OPPORTUNITIES:
        opp = add(org, form, owner, stage=stage, amount=amount)
        entered = NOW - dt.timedelta(days=5)
        for key, hours in history:
            stay(opp, key, entered, hours)
            entered += dt.timedelta(hours=hours or 0)
        made.append(opp)
    return made


def dashboard(*widgets: dict[str, Any], name: str = "Board") -> dict[str, Any]:
    return {"schema_version": 1, "name": name, "widgets": list(widgets)}


def publish(admin_actor: Actor, *widgets: dict[str, Any], key: str = "board") -> Any:
    return save_dashboard(admin_actor, "sales", key, dashboard(*widgets), publish=True)


def figures(actor: Actor, key: str = "board", **kwargs: Any) -> dict[str, dict[str, Any]]:
    """The widgets of a published dashboard by key, as ``actor`` sees them at NOW."""
    kwargs.setdefault("now", NOW)
    data = dashboard_data(actor, "sales", key, **kwargs)
    return {w["key"]: w for w in data["widgets"]}


def drill_count(actor: Actor, drill: dict[str, Any]) -> int:
    """How many records ``records(app, form, filter)`` gives ``actor`` for a drill."""
    page = list_records(actor, drill["app"], drill["form"], filter=drill["filter"], first=0)
    return int(page.queryset.count())


def drill_ids(actor: Actor, drill: dict[str, Any]) -> set[int]:
    page = list_records(actor, drill["app"], drill["form"], filter=drill["filter"], first=0)
    return set(page.queryset.values_list("pk", flat=True))


def points(widget_data: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str, dict[str, Any]]]:
    """Every ``(row, measure key, point)`` of a grouped widget (and its average)."""
    for row in widget_data.get("rows", []):
        for key, point in row["points"].items():
            yield row, key, point
    average = widget_data.get("average")
    if average:
        for key, point in average["points"].items():
            yield average, key, point


# --- a dashboard of every widget type, and its figures recomputed in Python ---------------

EVERY_TYPE = [
    widget(
        "kpi",
        "kpi",
        VALID_SHARE,
        filter={"field": "created_at", "op": "gte", "value": {"ago": {"days": 30}}},
        thresholds=THRESHOLDS,
    ),
    widget(
        "bar",
        "bar",
        count(),
        ratio("rate", NOT_PENDING, {"field": "amount", "op": "isnull", "value": False}),
        TOTAL,
        group_by=["region", "owner"],
    ),
    widget(
        "line",
        "line",
        count(),
        measure("mean", "avg", "amount"),
        group_by=[{"field": "created_at", "bucket": "day"}],
    ),
    widget(
        "pie",
        "pie",
        measure("high", "max", "score"),
        group_by=[{"field": "score", "bins": [50, 80]}],
    ),
    widget(
        "funnel",
        "funnel",
        count(),
        measure("amount", "sum", "amount"),
        measure("hours", "avg_stage_hours"),
        form="opportunity",
        group_by=["stage"],
    ),
    widget(
        "radar",
        "radar",
        count(),
        measure("low", "min", "amount"),
        group_by=["org_unit"],
        compare="team_average",
    ),
    widget("heatmap", "heatmap", group_by=["owner", {"field": "visited_at", "bucket": "hour"}]),
    widget(
        "table",
        "table",
        measure("filled", "filled", fields=["phone", "address"]),
        count("valid", filter={"field": "valid", "op": "eq", "value": True}),
        group_by=["status", "helper"],
    ),
]


def _records_of(actor, drill):
    page = list_records(actor, drill["app"], drill["form"], filter=drill["filter"], first=0)
    return list(page.queryset)


def _hours(records, stage):
    totals = []
    for record in records:
        stays = StageEntry.objects.filter(record=record, stage=stage)
        if stays:
            totals.append(
                sum(((s.exited_at or NOW) - s.entered_at).total_seconds() / 3600 for s in stays)
            )
    return round(fmean(totals), 6) if totals else None


def recompute(actor, measure, point, key=None):
    """The figure of ``point`` recomputed in Python from the records of its drill."""
    records = _records_of(actor, point["drill"])
    function = measure["function"]
    values = [r.data.get(measure.get("field")) for r in records]
    values = [float(v) for v in values if v is not None]
    if function == "count":
        return len(records)
    if function == "sum":
        return round(sum(values), 6)
    if function == "avg":
        return round(fmean(values), 6) if values else None
    if function in ("min", "max"):
        return (min if function == "min" else max)(values) if values else None
    if function == "ratio":
        numerator = len(_records_of(actor, point["drill_numerator"]))
        return round(numerator / len(records), 6) if records else None
    if function == "filled":
        fields = measure["fields"]
        filled = sum(1 for r in records for f in fields if r.data.get(f) not in (None, ""))
        return round(filled / (len(records) * len(fields)), 6) if records else None
    if function == "avg_stage_hours":  # a terminal stage is never left: no time counted
        return None if key == "won" else _hours(records, key)
    raise AssertionError(function)
