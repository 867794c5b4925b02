"""Grouping a widget by a relation: one group per related record, keyed by its global
id and labelled with its title as the viewer may see it (a record they cannot read, or
whose title fields are hidden from them, is named ``#<id>``), ordered by title, with a
drill-down ``{"field": <relation>, "op": "eq", "value": <id>}`` that gives exactly the
records counted; the titles are read in one query, for the groups shown only."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.builder.fields.base import global_id
from dajian.platform.errors import DajianError
from dajian.runtime.models import Record
from tests.factories import build_form
from tests.runtime.dashboard_helpers import (
    BY_STORE,
    CHECK_FIELDS,
    CHECK_PERMISSIONS,
    STORE_FIELDS,
    STORE_PERMISSIONS,
    add,
    drill_ids,
    figures,
    publish,
)

pytest_plugins = ["tests.runtime.dashboard_plugin"]


@pytest.fixture
def forms(admin_actor):
    """The store form (titled "name city") and the check form, both published before
    any record is written (on PostgreSQL, publishing indexes the records, which it
    refuses in a transaction that has written some)."""
    store_form = build_form(
        admin_actor,
        STORE_FIELDS,
        key="store",
        title_fields=["name", "city"],
        permissions=STORE_PERMISSIONS,
    )
    check_form = build_form(admin_actor, CHECK_FIELDS, key="check", permissions=CHECK_PERMISSIONS)
    return store_form, check_form


@pytest.fixture
def stores(board_org, forms):
    """Stores: 望京店 (rep1's), 国贸店 (rep3's) and one of rep1's with only a city."""
    form = forms[0]
    return {
        "wangjing": add(board_org, form, "rep1", name="望京店", city="北京"),
        "guomao": add(board_org, form, "rep3", name="国贸店", city="北京"),
        "city_only": add(board_org, form, "rep1", city="上海"),
    }


@pytest.fixture
def checks(board_org, forms, stores):
    """Checks by rep1 of 望京店 (2 of 3 on the shelf), of 国贸店 (1, on the shelf), of the
    city-only store (1, not), of no store (1); by rep3 of 国贸店 (2, one on the shelf)."""
    form = forms[1]
    rows = [
        ("rep1", "wangjing", True, 4),
        ("rep1", "wangjing", True, 2),
        ("rep1", "wangjing", False, None),
        ("rep1", "guomao", True, 1),
        ("rep1", "city_only", False, None),
        ("rep1", None, True, 3),
        ("rep3", "guomao", True, 5),
        ("rep3", "guomao", False, None),
    ]
    made: dict[str | None, list[Record]] = {}
    for owner, store, on_shelf, facings in rows:
        values = {"on_shelf": on_shelf, "facings": facings}
        if store is not None:
            values["store"] = stores[store].pk
        made.setdefault(store, []).append(add(board_org, form, owner, **values))
    return made


def store_id(record: Record) -> str:
    return global_id("Record", record.pk)


def test_groups_by_the_related_record_labelled_by_its_title(board_org, admin_actor, stores, checks):
    publish(admin_actor, BY_STORE)
    data = figures(board_org["admin"])["by_store"]["data"]
    # by title (望京店 sorts after 国贸店 and 上海 in code points), the empty group last
    two_of_three = {"n": 3, "rate": 0.666667, "facings": 6.0}
    assert [(row["key"], row["label"], row["values"]) for row in data["rows"]] == [
        ([store_id(stores["city_only"])], ["上海"], {"n": 1, "rate": 0.0, "facings": 0.0}),
        ([store_id(stores["guomao"])], ["国贸店 北京"], two_of_three),
        ([store_id(stores["wangjing"])], ["望京店 北京"], two_of_three),
        ([None], ["（空）"], {"n": 1, "rate": 1.0, "facings": 3.0}),
    ]
    assert data["dimensions"] == [{"field": "store", "label": "Store"}]


def test_the_drill_down_is_the_related_record_and_gives_the_records_counted(
    board_org, admin_actor, stores, checks
):
    publish(admin_actor, BY_STORE)
    for viewer in ("admin", "manager", "rep1", "rep3"):
        actor = board_org[viewer]
        visible = drill_ids(actor, {"app": "sales", "form": "check", "filter": {}})
        for row in figures(actor)["by_store"]["data"]["rows"]:
            (key,) = row["key"]
            point = row["points"]["rate"]
            if key is None:
                assert point["drill"]["filter"] == {"field": "store", "op": "isnull", "value": True}
            else:
                assert point["drill"]["filter"] == {"field": "store", "op": "eq", "value": key}
            store = next((k for k, r in stores.items() if store_id(r) == key), None)
            counted = drill_ids(actor, point["drill"])
            assert counted == {r.pk for r in checks[store]} & visible
            assert len(counted) == row["values"]["n"] == point["denominator"]
            on_shelf = {r.pk for r in checks[store] if r.data["on_shelf"]} & visible
            assert drill_ids(actor, point["drill_numerator"]) == on_shelf
            assert len(on_shelf) == point["numerator"]


def test_titles_the_viewer_may_not_read_are_not_shown(board_org, admin_actor, stores, checks):
    """rep1 checked 国贸店, which is rep3's: rep1 cannot read it, so it is named by id; the
    city is hidden from reps, so a store titled by its city alone is named by id too."""
    publish(admin_actor, BY_STORE)
    rows = figures(board_org["rep1"])["by_store"]["data"]["rows"]
    labels = {row["key"][0]: row["label"][0] for row in rows}
    assert labels == {
        store_id(stores["wangjing"]): "望京店",
        store_id(stores["guomao"]): f"#{stores['guomao'].pk}",
        store_id(stores["city_only"]): f"#{stores['city_only'].pk}",
        None: "（空）",
    }
    # titled records first, then those named by id, then the empty group
    assert [row["label"][0] for row in rows] == [
        "望京店",
        *sorted(
            (f"#{stores[k].pk}" for k in ("guomao", "city_only")),
            key=lambda label: int(label[1:]),
        ),
        "（空）",
    ]
    shown = str(rows)
    assert "国贸店" not in shown and "上海" not in shown and "北京" not in shown
    # rep3 reads 国贸店 (theirs) and sees only their own checks of it
    (row,) = figures(board_org["rep3"])["by_store"]["data"]["rows"]
    assert (row["label"], row["values"]["n"]) == (["国贸店"], 2)


def test_a_title_of_choices_shows_their_labels(board_org, admin_actor):
    stores = build_form(admin_actor, STORE_FIELDS, key="store", title_fields=["level", "name"])
    form = build_form(admin_actor, CHECK_FIELDS, key="check")
    titled = add(board_org, stores, "rep1", name="望京店", level="A")
    untitled = add(board_org, stores, "rep1")
    add(board_org, form, "rep1", store=titled.pk)
    add(board_org, form, "rep1", store=untitled.pk)
    publish(admin_actor, BY_STORE)
    rows = figures(board_org["admin"])["by_store"]["data"]["rows"]
    assert [row["label"] for row in rows] == [["A 类 望京店"], [f"#{untitled.pk}"]]


def test_the_titles_of_the_groups_shown_are_read_in_one_query(
    board_org, admin_actor, forms, stores
):
    store_form, form = forms
    many = [add(board_org, store_form, "rep1", name=f"店{i:02d}") for i in range(30)]
    for i, store in enumerate(many):
        for _ in range(i % 4 + 1):
            add(board_org, form, "rep1", store=store.pk, facings=i)
    top = {
        **BY_STORE,
        "key": "top",
        "measures": [{"key": "facings", "function": "sum", "field": "facings"}],
        "sort": "value_desc",
        "limit": 3,
    }
    publish(admin_actor, top)
    figures(board_org["admin"])  # caches warm (published versions)
    with CaptureQueriesContext(connection) as queries:
        rows = figures(board_org["admin"])["top"]["data"]["rows"]
    # store i has i % 4 + 1 checks of i facings: the top sums are 27 × 4, 23 × 4, 26 × 3
    assert [(row["label"], row["values"]["facings"]) for row in rows] == [
        (["店27"], 108.0),
        (["店23"], 92.0),
        (["店26"], 78.0),
    ]
    lookups = [q["sql"] for q in queries.captured_queries if '"id" IN (' in q["sql"]]
    assert len(lookups) == 1
    (listed,) = re.findall(r'"id" IN \(([^)]*)\)', lookups[0])
    assert {int(i) for i in listed.split(",")} == {many[i].pk for i in (27, 23, 26)}


def test_the_number_of_queries_does_not_grow_with_the_groups(board_org, admin_actor, forms, stores):
    store_form, form = forms
    publish(admin_actor, BY_STORE)

    def count() -> int:
        figures(board_org["admin"])
        with CaptureQueriesContext(connection) as queries:
            figures(board_org["admin"])
        return len(queries.captured_queries)

    add(board_org, form, "rep1", store=stores["wangjing"].pk)
    few = count()
    for i in range(20):
        add(board_org, form, "rep1", store=add(board_org, store_form, "rep1", name=f"店{i}").pk)
    assert count() == few


def test_a_multiple_relation_cannot_be_grouped(admin_actor, forms):
    with pytest.raises(DajianError) as caught:
        publish(admin_actor, {**BY_STORE, "group_by": [{"field": "stores"}]})
    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("widgets.0.group_by.0.field", "NOT_GROUPABLE")
    ]


def test_a_relation_with_a_time_bucket_in_a_heatmap(board_org, admin_actor, stores, checks):
    publish(
        admin_actor,
        {
            "key": "heat",
            "type": "heatmap",
            "form": "check",
            "measures": [{"key": "n", "function": "count"}],
            "group_by": [{"field": "store"}, {"field": "created_at", "bucket": "weekday"}],
            "limit": 2,
        },
    )
    data = figures(board_org["manager"])["heat"]["data"]
    # the manager's team (rep1, rep2) checked four stores; 国贸店 is rep3's, named by id;
    # by title, the first two
    assert data["y"]["labels"] == ["上海", "望京店 北京"]
    assert data["y"]["keys"] == [store_id(stores["city_only"]), store_id(stores["wangjing"])]
    # created the day before NOW (a Wednesday): Tuesday, x index 1
    assert [(c["y"], c["x"], c["values"]["n"]) for c in data["rows"]] == [(0, 1, 1), (1, 1, 3)]
