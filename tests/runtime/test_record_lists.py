"""records(): the JSON filter language, sorting, search and cursor pagination in SQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dajian.platform.errors import DajianError
from dajian.runtime.selectors import list_records
from dajian.runtime.services.records import create_record

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {
        "key": "level",
        "type": "single_select",
        "label": "Level",
        "indexed": True,
        "choices": [{"value": v, "label": v} for v in "ABC"],
    },
    {"key": "amount", "type": "number", "label": "Amount", "precision": 2},
    {"key": "phone", "type": "phone", "label": "Phone"},
]
ROWS = [
    {"name": "Alpha", "level": "A", "amount": 100, "phone": "13800000001"},
    {"name": "Beta", "level": "B", "amount": 5.5},
    {"name": "Gamma", "level": "A", "amount": 50},
    {"name": "Delta", "level": "C"},
    {"name": "alphabet soup", "level": "B", "amount": 1000},
]


@pytest.fixture
def records(admin_actor, form_factory):
    form_factory(FIELDS, search_fields=["name"])
    return [create_record(admin_actor, "sales", "customer", row).record for row in ROWS]


def names(actor, **kwargs):
    return [v.record.data["name"] for v in list_records(actor, "sales", "customer", **kwargs).items]


def test_default_order_is_newest_first(admin_actor, records):
    assert names(admin_actor) == [r["name"] for r in reversed(ROWS)]


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"field": "level", "op": "eq", "value": "A"}, {"Alpha", "Gamma"}),
        ({"field": "level", "op": "in", "value": ["B", "C"]}, {"Beta", "Delta", "alphabet soup"}),
        ({"field": "amount", "op": "gt", "value": 50}, {"Alpha", "alphabet soup"}),
        ({"field": "amount", "op": "lte", "value": 50}, {"Beta", "Gamma"}),
        ({"field": "amount", "op": "isnull", "value": True}, {"Delta"}),
        ({"field": "name", "op": "icontains", "value": "ALPHA"}, {"Alpha", "alphabet soup"}),
        ({"field": "name", "op": "contains", "value": "lph"}, {"Alpha", "alphabet soup"}),
        ({"field": "name", "op": "contains", "value": "ALPH"}, set()),  # case-sensitive
        ({"field": "name", "op": "startswith", "value": "al"}, {"alphabet soup"}),
        (
            {"field": "name", "op": "ne", "value": "Beta"},
            {"Alpha", "Gamma", "Delta", "alphabet soup"},
        ),
        ({"field": "phone", "op": "eq", "value": "138-0000-0001"}, {"Alpha"}),
        (
            {
                "and": [
                    {"field": "level", "op": "eq", "value": "A"},
                    {"field": "amount", "op": "gte", "value": 100},
                ]
            },
            {"Alpha"},
        ),
        (
            {
                "or": [
                    {"field": "level", "op": "eq", "value": "C"},
                    {"not": {"field": "amount", "op": "lt", "value": 1000}},
                ]
            },
            {"Delta", "alphabet soup"},
        ),
        ({"field": "status", "op": "eq", "value": "active"}, {r["name"] for r in ROWS}),
    ],
)
def test_filters(admin_actor, records, filter, expected):
    assert set(names(admin_actor, filter=filter)) == expected


def test_a_filtered_sorted_page_is_one_query(admin_actor, records):
    with CaptureQueriesContext(connection) as queries:
        page = list_records(
            admin_actor,
            "sales",
            "customer",
            filter={"field": "level", "op": "in", "value": ["A", "B"]},
            order_by=["-amount"],
            first=2,
        )
        [v.data for v in page.items]
    record_queries = [q for q in queries if "runtime_record" in q["sql"]]
    assert len(record_queries) == 1
    assert [v.record.data["name"] for v in page.items] == ["alphabet soup", "Alpha"]


@pytest.mark.parametrize(
    ("filter", "code", "path"),
    [
        ({"field": "nope", "op": "eq", "value": 1}, "UNKNOWN_FIELD", "filter.field"),
        ({"field": "name", "op": "gt", "value": 1}, "UNSUPPORTED_OPERATOR", "filter.op"),
        ({"field": "level", "op": "eq", "value": "Z"}, "INVALID_VALUE", "filter.value"),
        ({"and": []}, "INVALID_FILTER", "filter"),
        ({"field": "level", "op": "in", "value": "A"}, "INVALID_VALUE", "filter.value"),
        ({"and": [{"field": "x", "op": "eq", "value": 1}]}, "UNKNOWN_FIELD", "filter.and.0.field"),
        (
            {"field": "created_at", "op": "gt", "value": "yesterday"},
            "INVALID_VALUE",
            "filter.value",
        ),
    ],
)
def test_bad_filters_are_typed_errors(admin_actor, records, filter, code, path):
    with pytest.raises(DajianError) as exc:
        list_records(admin_actor, "sales", "customer", filter=filter)
    assert (exc.value.errors[0].code, exc.value.errors[0].path) == (code, path)


def test_filter_depth_limit(admin_actor, records):
    leaf = {"field": "level", "op": "eq", "value": "A"}
    node = leaf
    for _ in range(5):
        node = {"not": node}
    assert set(names(admin_actor, filter=node)) == {"Beta", "Delta", "alphabet soup"}
    with pytest.raises(DajianError) as exc:
        list_records(admin_actor, "sales", "customer", filter={"not": node})
    assert exc.value.errors[0].code == "LIMIT_EXCEEDED"


def test_sorting_by_fields_and_system_columns(admin_actor, records):
    assert names(admin_actor, order_by=["amount"])[:4] == [
        "Beta",
        "Gamma",
        "Alpha",
        "alphabet soup",
    ]
    assert names(admin_actor, order_by=["created_at"]) == [r["name"] for r in ROWS]
    with pytest.raises(DajianError) as exc:
        names(admin_actor, order_by=["ghost"])
    assert exc.value.errors[0].code == "INVALID_SORT"


def test_search_on_title_fields(admin_actor, records):
    assert set(names(admin_actor, search="alpha")) == {"Alpha", "alphabet soup"}


@pytest.mark.parametrize("order_by", [None, ["amount"], ["created_at"]])
def test_cursor_pagination_visits_every_record_once(admin_actor, records, order_by):
    seen, after = [], None
    while True:
        page = list_records(
            admin_actor, "sales", "customer", order_by=order_by, first=2, after=after
        )
        seen += [v.record.pk for v in page.items]
        if not page.has_next:
            break
        after = page.end_cursor
    assert sorted(seen) == sorted(r.pk for r in records) and len(seen) == len(records)


def test_page_size_limit(admin_actor, records):
    assert len(list_records(admin_actor, "sales", "customer", first=100).items) == 5
    with pytest.raises(DajianError) as exc:
        list_records(admin_actor, "sales", "customer", first=101)
    assert exc.value.errors[0].code == "LIMIT_EXCEEDED"


def test_bad_cursor(admin_actor, records):
    with pytest.raises(DajianError) as exc:
        list_records(admin_actor, "sales", "customer", after="not-a-cursor")
    assert exc.value.errors[0].code == "INVALID_CURSOR"
