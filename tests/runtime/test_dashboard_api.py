"""Runtime GraphQL of dashboards (contract v1): ``dashboard(app, key)`` and
``dashboards(app)`` for any member, with the caller's row scope, and drill-downs that
``records(app, form, filter)`` answers with the records counted."""

from __future__ import annotations

from dajian.builder.services.metadata import save_dashboard
from tests.runtime.dashboard_helpers import add, dashboard, publish, visits_kpi, widget

pytest_plugins = ["tests.runtime.dashboard_plugin"]

DASHBOARD = """
query D($app: String!, $key: String!) {
  dashboard(app: $app, key: $key) {
    key app name description version
    widgets { key type title format color data }
  }
}"""
DASHBOARDS = """query L { dashboards(app: "sales") { key name version } }"""
RECORDS = """
query R($app: String!, $form: String!, $filter: GenericScalar) {
  records(app: $app, form: $form, filter: $filter) { totalCount }
}"""
WIDGETS = [visits_kpi(green=3, yellow=2), widget("by_region", "bar", group_by=["region"])]


def _setup(board_org, board_visit, admin_actor):
    for owner, region in [
        ("rep1", "north"),
        ("rep1", "south"),
        ("rep2", "north"),
        ("rep3", "east"),
    ]:
        add(board_org, board_visit, owner, region=region)
    publish(admin_actor, *WIDGETS)


def test_a_member_reads_the_figures_of_their_scope(gql, board_org, board_visit, admin_actor):
    _setup(board_org, board_visit, admin_actor)
    variables = {"app": "sales", "key": "board"}
    found = gql(DASHBOARD, variables, as_user=board_org.user("rep1"))["data"]["dashboard"]
    assert (found["key"], found["app"], found["name"], found["version"]) == (
        "board",
        "sales",
        "Board",
        1,
    )
    widgets = {w["key"]: w for w in found["widgets"]}
    kpi = widgets["visits"]
    assert (kpi["type"], kpi["title"], kpi["format"], kpi["color"]) == (
        "kpi",
        "拜访数",
        "number",
        "yellow",
    )
    assert kpi["data"]["value"] == 2
    manager = gql(DASHBOARD, variables, as_user=board_org.user("manager"))["data"]["dashboard"]
    assert {w["key"]: w for w in manager["widgets"]}["visits"]["data"]["value"] == 3
    # every bar's drill-down, followed through records(), counts what the bar shows
    for row in widgets["by_region"]["data"]["rows"]:
        point = row["points"]["n"]
        drill = point["drill"]
        counted = gql(
            RECORDS,
            {"app": drill["app"], "form": drill["form"], "filter": drill["filter"]},
            as_user=board_org.user("rep1"),
        )
        assert counted["data"]["records"]["totalCount"] == point["value"]


def test_labels_in_the_callers_language(gql, board_org, board_visit, admin_actor):
    _setup(board_org, board_visit, admin_actor)
    response = gql(
        DASHBOARD,
        {"app": "sales", "key": "board"},
        as_user=board_org.user("manager"),
        language="en",
    )
    widgets = {w["key"]: w for w in response["data"]["dashboard"]["widgets"]}
    assert widgets["visits"]["title"] == "Visits"
    assert [row["label"] for row in widgets["by_region"]["data"]["rows"]] == [["North"], ["South"]]


def test_drafts_are_not_shown_and_dashboards_are_listed(gql, board_org, board_visit, admin_actor):
    _setup(board_org, board_visit, admin_actor)
    save_dashboard(admin_actor, "sales", "draft_only", dashboard(WIDGETS[0]))
    rep = board_org.user("rep2")
    assert gql(DASHBOARD, {"app": "sales", "key": "draft_only"}, as_user=rep)["data"] == {
        "dashboard": None
    }
    assert gql(DASHBOARD, {"app": "sales", "key": "nope"}, as_user=rep)["data"] == {
        "dashboard": None
    }
    listed = gql(DASHBOARDS, as_user=rep)["data"]["dashboards"]
    assert listed == [{"key": "board", "name": "Board", "version": 1}]


def test_anonymous_callers_are_refused(gql, board_org, board_visit, admin_actor):
    _setup(board_org, board_visit, admin_actor)
    response = gql(DASHBOARD, {"app": "sales", "key": "board"})
    assert response["data"] is None or response["data"]["dashboard"] is None
    assert response["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
