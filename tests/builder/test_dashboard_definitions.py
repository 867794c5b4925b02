"""Dashboard documents in the builder: saveDashboard / publishDashboard and the
designers' queries, the meta-schema's limits and every semantic check, each problem
typed at its JSON path and nothing saved when there is one."""

from __future__ import annotations

import copy

import pytest

from dajian.builder.models import Metadata, MetadataKind
from dajian.builder.services.metadata import save_dashboard
from dajian.platform.audit import AuditEvent
from dajian.platform.errors import DajianError
from tests.factories import build_form, build_workflow, make_actor, make_user

FIELDS = [
    {
        "key": "region",
        "type": "single_select",
        "label": "Region",
        "choices": [{"value": "north", "label": "North"}, {"value": "south", "label": "South"}],
    },
    {"key": "amount", "type": "money", "label": "Amount"},
    {"key": "visited_at", "type": "datetime", "label": "Visited"},
    {"key": "due_on", "type": "date", "label": "Due"},
    {"key": "address", "type": "text", "label": "Address"},
    {"key": "helpers", "type": "user", "label": "Helpers", "multiple": True},
    {"key": "note", "type": "long_text", "label": "Note"},
]
SAVE = """
mutation S($input: SaveDashboardInput!) {
  saveDashboard(input: $input) {
    dashboard { key app form name widgetCount draft published { number } }
    errors { field path code message }
  }
}"""
PUBLISH = """
mutation P($input: DashboardKeyInput!) {
  publishDashboard(input: $input) { version dashboard { published { number } } errors { code } }
}"""
LIST = """
query L { dashboardDocuments(app: "sales") { key name versions { number } }
          dashboardDocument(app: "sales", key: "board") { key widgetCount } }"""


def kpi(**overrides):
    widget = {
        "key": "valid_rate",
        "type": "kpi",
        "title": {"zh-CN": "有效拜访率", "en": "Valid visit rate"},
        "form": "visit",
        "filter": {"field": "created_at", "op": "gte", "value": {"ago": {"days": 30}}},
        "measures": [
            {
                "key": "rate",
                "function": "ratio",
                "numerator": {
                    "filter": {
                        "not": {"field": "flags", "op": "contains", "value": "pending_verification"}
                    }
                },
                "denominator": {},
            }
        ],
        "thresholds": {"green": 0.65, "yellow": 0.45},
        "format": "percent",
    }
    widget.update(overrides)
    return widget


def bar(**overrides):
    widget = {
        "key": "by_region",
        "type": "bar",
        "form": "visit",
        "measures": [{"key": "n", "function": "count"}],
        "group_by": [{"field": "region"}],
    }
    widget.update(overrides)
    return widget


def board(*widgets):
    return {
        "schema_version": 1,
        "name": {"zh-CN": "拜访看板", "en": "Visits"},
        "widgets": list(widgets) or [kpi(), bar()],
    }


@pytest.fixture
def forms(admin_actor):
    visit = build_form(admin_actor, FIELDS, key="visit")
    plain = build_form(admin_actor, FIELDS[:2], key="plain")
    draft = build_form(admin_actor, FIELDS[:2], key="draft_only", publish=False)
    opportunity = build_form(admin_actor, FIELDS[:2], key="opportunity")
    build_workflow(
        admin_actor,
        opportunity,
        {
            "initial": "new",
            "stages": [{"key": "new", "label": "New"}, {"key": "won", "terminal": True}],
            "transitions": [{"from": "new", "to": "won"}],
        },
    )
    return {"visit": visit, "plain": plain, "draft": draft, "opportunity": opportunity}


def save(gql, user, definition, key="board", publish=False):
    variables = {"input": {"app": "sales", "key": key, "definition": definition}}
    if publish:
        variables["input"]["publish"] = True
    return gql(SAVE, variables, as_user=user)["data"]["saveDashboard"]


def codes(result):
    return {(e["path"], e["code"]) for e in result["errors"]}


def test_save_publish_and_list(gql, admin, forms):
    result = save(gql, admin, board())
    assert result["errors"] == []
    saved = result["dashboard"]
    assert (saved["key"], saved["app"], saved["form"], saved["widgetCount"]) == (
        "board",
        "sales",
        None,
        2,
    )
    assert saved["published"] is None
    meta = Metadata.objects.get(kind=MetadataKind.DASHBOARD, key="board")
    assert meta.form is None  # a dashboard has no form of its own
    published = gql(PUBLISH, {"input": {"app": "sales", "key": "board"}}, as_user=admin)
    assert published["data"]["publishDashboard"] == {
        "version": 1,
        "dashboard": {"published": {"number": 1}},
        "errors": [],
    }
    # publishing an unchanged draft keeps the version
    again = gql(PUBLISH, {"input": {"app": "sales", "key": "board"}}, as_user=admin)
    assert again["data"]["publishDashboard"]["version"] == 1
    listed = gql(LIST, as_user=admin)["data"]
    assert listed["dashboardDocuments"][0]["key"] == "board"
    assert listed["dashboardDocuments"][0]["versions"] == [{"number": 1}]
    assert listed["dashboardDocument"] == {"key": "board", "widgetCount": 2}
    actions = list(
        AuditEvent.objects.filter(object_type="Metadata", object_id=str(meta.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["dashboard.saved", "dashboard.published"]


def test_save_with_publish_in_one_call(gql, admin, forms):
    result = save(gql, admin, board(), publish=True)
    assert result["errors"] == []
    assert result["dashboard"]["published"] == {"number": 1}


def test_only_designers_save_dashboards(gql, workspace, forms):
    rep = make_user("rep", workspace, roles=["rep"])
    result = save(gql, rep, board())
    assert [e["code"] for e in result["errors"]] == ["PERMISSION_DENIED"]
    assert not Metadata.objects.filter(kind=MetadataKind.DASHBOARD).exists()
    with pytest.raises(DajianError) as caught:
        save_dashboard(make_actor(rep, workspace), "sales", "board", board())
    assert caught.value.errors[0].code == "PERMISSION_DENIED"


def test_members_do_not_see_drafts(gql, admin, workspace, forms):
    save(gql, admin, board())
    rep = make_user("rep", workspace, roles=["rep"])
    seen = gql(
        'query { dashboardDocument(app: "sales", key: "board") { draft versions { number } } }',
        as_user=rep,
    )["data"]["dashboardDocument"]
    assert seen == {"draft": None, "versions": []}


@pytest.mark.parametrize(
    ("widget", "expected"),
    [
        (bar(form="nope"), ("widgets.0.form", "UNKNOWN_FORM")),
        (bar(form="draft_only"), ("widgets.0.form", "FORM_NOT_PUBLISHED")),
        (bar(group_by=[{"field": "colour"}]), ("widgets.0.group_by.0.field", "UNKNOWN_FIELD")),
        (
            bar(measures=[{"key": "s", "function": "sum", "field": "address"}]),
            ("widgets.0.measures.0.field", "NOT_NUMERIC_FIELD"),
        ),
        (
            bar(measures=[{"key": "s", "function": "avg", "field": "ghost"}]),
            ("widgets.0.measures.0.field", "UNKNOWN_FIELD"),
        ),
        (
            bar(group_by=[{"field": "region", "bucket": "month"}]),
            ("widgets.0.group_by.0.bucket", "NOT_DATE_FIELD"),
        ),
        (
            bar(group_by=[{"field": "visited_at"}]),
            ("widgets.0.group_by.0.field", "BUCKET_REQUIRED"),
        ),
        (
            bar(group_by=[{"field": "created_at"}]),
            ("widgets.0.group_by.0.field", "BUCKET_REQUIRED"),
        ),
        (
            bar(group_by=[{"field": "due_on", "bucket": "hour"}]),
            ("widgets.0.group_by.0.bucket", "BUCKET_NOT_ALLOWED"),
        ),
        (
            bar(group_by=[{"field": "address", "bins": [1, 2]}]),
            ("widgets.0.group_by.0.bins", "BINS_NOT_ALLOWED"),
        ),
        (
            bar(group_by=[{"field": "amount", "bins": [90, 60]}]),
            ("widgets.0.group_by.0.bins", "BINS_NOT_ASCENDING"),
        ),
        (bar(group_by=[{"field": "helpers"}]), ("widgets.0.group_by.0.field", "NOT_GROUPABLE")),
        (bar(group_by=[{"field": "note"}]), ("widgets.0.group_by.0.field", "NOT_GROUPABLE")),
        (
            bar(group_by=[{"field": "region"}, {"field": "region"}]),
            ("widgets.0.group_by.1.field", "DUPLICATE_KEY"),
        ),
        (
            kpi(measures=[{"key": "a", "function": "count"}, {"key": "b", "function": "count"}]),
            ("widgets.0.measures", "ONE_MEASURE"),
        ),
        (kpi(group_by=[{"field": "region"}]), ("widgets.0.group_by", "GROUP_BY_NOT_ALLOWED")),
        (bar(type="heatmap"), ("widgets.0.group_by", "TWO_GROUPS")),
        (bar(type="funnel", form="opportunity"), ("widgets.0.group_by", "GROUP_BY_STAGE")),
        (
            bar(type="funnel", group_by=[{"field": "stage"}]),
            ("widgets.0.group_by.0.field", "NO_WORKFLOW"),
        ),
        (bar(type="radar"), ("widgets.0.group_by", "GROUP_BY_PERSON")),
        (bar(compare="team_average"), ("widgets.0.compare", "NOT_ALLOWED_FOR_TYPE")),
        (
            bar(type="pie", thresholds={"green": 1, "yellow": 0}),
            ("widgets.0.thresholds", "NOT_ALLOWED_FOR_TYPE"),
        ),
        (
            kpi(thresholds={"green": 0.4, "yellow": 0.6}),
            ("widgets.0.thresholds.green", "THRESHOLDS_ORDER"),
        ),
        (
            kpi(thresholds={"green": 0.6, "yellow": 0.4, "lower_is_better": True}),
            ("widgets.0.thresholds.green", "THRESHOLDS_ORDER"),
        ),
        (
            bar(form="opportunity", measures=[{"key": "h", "function": "avg_stage_hours"}]),
            ("widgets.0.measures.0.function", "GROUP_BY_STAGE"),
        ),
        (
            bar(measures=[{"key": "n", "function": "count", "field": "amount"}]),
            ("widgets.0.measures.0.field", "UNEXPECTED_OPTION"),
        ),
        (
            bar(measures=[{"key": "n", "function": "count"}, {"key": "n", "function": "count"}]),
            ("widgets.0.measures.1.key", "DUPLICATE_KEY"),
        ),
        (
            bar(measures=[{"key": "f", "function": "filled", "fields": ["address", "ghost"]}]),
            ("widgets.0.measures.0.fields.1", "UNKNOWN_FIELD"),
        ),
        (
            bar(filter={"field": "ghost", "op": "eq", "value": 1}),
            ("widgets.0.filter.field", "UNKNOWN_FIELD"),
        ),
        (
            bar(
                measures=[
                    {
                        "key": "n",
                        "function": "count",
                        "filter": {"field": "region", "op": "gt", "value": "a"},
                    }
                ]
            ),
            ("widgets.0.measures.0.filter.op", "UNSUPPORTED_OPERATOR"),
        ),
        (
            kpi(
                measures=[
                    {
                        "key": "r",
                        "function": "ratio",
                        "numerator": {"filter": {"field": "region", "op": "eq", "value": "west"}},
                        "denominator": {},
                    }
                ]
            ),
            ("widgets.0.measures.0.numerator.filter.value", "INVALID_VALUE"),
        ),
        (
            bar(filter={"field": "created_at", "op": "weekday", "value": 8}),
            ("widgets.0.filter.value", "INVALID_VALUE"),
        ),
    ],
)
def test_every_problem_is_typed_at_its_path(gql, admin, forms, widget, expected):
    result = save(gql, admin, board(widget))
    assert expected in codes(result), result["errors"]
    assert result["dashboard"] is None
    assert not Metadata.objects.filter(kind=MetadataKind.DASHBOARD).exists()


def test_all_problems_come_back_at_once(gql, admin, forms):
    result = save(
        gql,
        admin,
        board(
            bar(group_by=[{"field": "colour"}]),
            bar(key="by_region", measures=[{"key": "s", "function": "sum", "field": "address"}]),
        ),
    )
    assert codes(result) == {
        ("widgets.0.group_by.0.field", "UNKNOWN_FIELD"),
        ("widgets.1.key", "DUPLICATE_KEY"),
        ("widgets.1.measures.0.field", "NOT_NUMERIC_FIELD"),
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("widgets"), ("", "REQUIRED")),
        (lambda d: d.update(widgets=[]), ("widgets", "TOO_FEW_ITEMS")),
        (lambda d: d.update(colour="red"), ("", "UNKNOWN_PROPERTY")),
        (lambda d: d["widgets"][0].update(type="gauge"), ("widgets.0.type", "INVALID_CHOICE")),
        (lambda d: d["widgets"][0].update(limit=0), ("widgets.0.limit", "OUT_OF_RANGE")),
        (lambda d: d["widgets"][0].update(limit=101), ("widgets.0.limit", "OUT_OF_RANGE")),
        (lambda d: d["widgets"][0].pop("measures"), ("widgets.0", "REQUIRED")),
        (lambda d: d["widgets"][0].update(measures=[]), ("widgets.0.measures", "TOO_FEW_ITEMS")),
        (
            lambda d: d["widgets"][0].update(measures=[{"key": "s", "function": "sum"}]),
            ("widgets.0.measures.0", "REQUIRED"),
        ),
        (
            lambda d: d["widgets"][0].update(measures=[{"key": "r", "function": "ratio"}]),
            ("widgets.0.measures.0", "REQUIRED"),
        ),
        (
            lambda d: d["widgets"][0].update(
                measures=[{"key": f"m{i}", "function": "count"} for i in range(7)]
            ),
            ("widgets.0.measures", "TOO_MANY_ITEMS"),
        ),
        (
            lambda d: d["widgets"][0].update(
                group_by=[{"field": "region"}, {"field": "owner"}, {"field": "stage"}]
            ),
            ("widgets.0.group_by", "TOO_MANY_ITEMS"),
        ),
        (
            lambda d: d["widgets"][0].update(format="emoji"),
            ("widgets.0.format", "INVALID_CHOICE"),
        ),
    ],
)
def test_the_meta_schema(gql, admin, forms, change, expected):
    document = board(bar())
    change(document)
    result = save(gql, admin, document)
    assert expected in codes(result), result["errors"]


def test_widget_count_at_and_past_the_limit(gql, admin, forms):
    widgets = [bar(key=f"w{i}") for i in range(24)]
    assert save(gql, admin, board(*widgets))["errors"] == []
    result = save(gql, admin, board(*widgets, bar(key="w24")))
    assert codes(result) == {("widgets", "TOO_MANY_ITEMS")}
    # the failed save left the saved draft as it was
    meta = Metadata.objects.get(kind=MetadataKind.DASHBOARD, key="board")
    assert len(meta.draft["widgets"]) == 24


def test_six_measures_and_two_groupings_are_allowed(gql, admin, forms):
    widget = bar(
        measures=[{"key": f"m{i}", "function": "count"} for i in range(6)],
        group_by=[{"field": "region"}, {"field": "visited_at", "bucket": "weekday"}],
    )
    assert save(gql, admin, board(widget))["errors"] == []


def test_every_widget_type_and_measure_saves(gql, admin, forms):
    widgets = [
        kpi(),
        bar(sort="value_desc", limit=20, format="number"),
        bar(key="line", type="line", group_by=[{"field": "created_at", "bucket": "month"}]),
        bar(key="pie", type="pie"),
        bar(
            key="funnel",
            type="funnel",
            form="opportunity",
            measures=[
                {"key": "n", "function": "count"},
                {"key": "amount", "function": "sum", "field": "amount"},
                {"key": "hours", "function": "avg_stage_hours"},
            ],
            group_by=[{"field": "stage"}],
        ),
        bar(
            key="radar",
            type="radar",
            measures=[
                {"key": "n", "function": "count"},
                {"key": "avg", "function": "avg", "field": "amount"},
                {"key": "low", "function": "min", "field": "amount"},
                {"key": "high", "function": "max", "field": "amount"},
            ],
            group_by=[{"field": "owner"}],
            compare="team_average",
        ),
        bar(
            key="heat",
            type="heatmap",
            group_by=[{"field": "owner"}, {"field": "created_at", "bucket": "hour"}],
        ),
        bar(key="bins", group_by=[{"field": "amount", "bins": [60, 75, 90]}]),
        bar(
            key="health",
            type="table",
            measures=[{"key": "filled", "function": "filled", "fields": ["address", "amount"]}],
            group_by=[{"field": "org_unit"}],
            thresholds={"green": 0.2, "yellow": 0.5, "lower_is_better": True},
        ),
        bar(key="due", group_by=[{"field": "due_on", "bucket": "week"}]),
    ]
    result = save(gql, admin, board(*widgets), publish=True)
    assert result["errors"] == []


def test_publish_checks_again(admin_actor, forms):
    """A draft that was valid may no longer be at publish time (its form changed)."""
    save_dashboard(admin_actor, "sales", "board", board(bar(group_by=[{"field": "address"}])))
    from dajian.builder.services.forms import publish_form, save_form_draft

    definition = copy.deepcopy(forms["visit"].published.definition)
    definition["fields"] = [f for f in definition["fields"] if f["key"] != "address"]
    save_form_draft(admin_actor, "sales", "visit", definition)
    publish_form(admin_actor, "sales", "visit")
    from dajian.builder.services.metadata import publish_metadata

    with pytest.raises(DajianError) as caught:
        publish_metadata(admin_actor, MetadataKind.DASHBOARD, "sales", "board")
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("widgets.0.group_by.0.field", "UNKNOWN_FIELD")
    ]
