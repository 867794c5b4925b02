"""The ``rollup`` field type: aggregates of related records, computed in SQL when read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db.models import Q
from django.utils import timezone

from dajian.builder.fields.registry import get
from dajian.builder.fields.rollup import RollupField
from dajian.builder.models import App, Form, FormVersion
from dajian.runtime.models import Record
from tests.builder.fields.conftest import field, option_errors

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VISITS = {
    "key": "visits",
    "name": "Visits",
    "fields": [
        {"key": "customer", "type": "relation", "label": "C", "target": "customers"},
        {"key": "score", "type": "number", "label": "S"},
        {"key": "outcome", "type": "text", "label": "O"},
        {"key": "visit_date", "type": "date", "label": "D"},
        {"key": "met_at", "type": "datetime", "label": "M"},
        {"key": "tags", "type": "relation", "label": "T", "target": "customers", "multiple": True},
        {"key": "lead", "type": "relation", "label": "L", "target": "leads"},
    ],
}
CUSTOMERS = {
    "key": "customers",
    "name": "Customers",
    "fields": [{"key": "name", "type": "text", "label": "N"}],
}


def rollup(function: str, value_field: str | None = None, **options: Any) -> RollupField:
    definition = {
        "key": "agg",
        "type": "rollup",
        "source": {"form": "visits", "field": "customer"},
        "function": function,
        **options,
    }
    if value_field:
        definition["value_field"] = value_field
    built = field(definition)
    assert isinstance(built, RollupField)
    return built


class Shop:
    """Customers and their visits as real records."""

    def __init__(self, workspace):
        app = App.objects.create(workspace=workspace, key="sales", name={"en": "Sales"})
        self.workspace = workspace
        self.customers, self.customers_v = self._form(app, CUSTOMERS)
        self.visits, self.visits_v = self._form(app, VISITS)

    def _form(self, app, definition):
        form = Form.objects.create(
            workspace=self.workspace, app=app, key=definition["key"], draft=definition
        )
        version = FormVersion.objects.create(
            form=form,
            number=1,
            definition=definition,
            content_hash="0" * 64,
            published_at=timezone.now(),
        )
        return form, version

    def customer(self, name: str) -> Record:
        return Record.objects.create(
            workspace=self.workspace,
            form=self.customers,
            form_version=self.customers_v,
            data={"name": name},
        )

    def visit(self, customer: Record | None, days_ago: float, **data: Any) -> Record:
        if customer is not None:
            data["customer"] = customer.pk
        return Record.objects.create(
            workspace=self.workspace,
            form=self.visits,
            form_version=self.visits_v,
            data=data,
            created_at=NOW - timedelta(days=days_ago),
        )

    def read(self, field_type: RollupField, **kwargs: Any) -> dict[str, Any]:
        """``{customer name: rollup value}``."""
        annotation = field_type.annotation(
            record_model=Record,
            source_form_id=self.visits.pk,
            source_definition=VISITS,
            now=NOW,
            **kwargs,
        )
        rows = Record.objects.filter(form=self.customers).annotate(**{field_type.alias: annotation})
        return {row.data["name"]: getattr(row, field_type.alias) for row in rows.order_by("pk")}


@pytest.fixture
def shop(workspace):
    shop = Shop(workspace)
    acme, bolt = shop.customer("acme"), shop.customer("bolt")
    shop.customer("calm")  # never visited
    shop.visit(
        acme, 1, score=4, outcome="met", visit_date="2026-02-28", met_at="2026-02-28T09:00:00Z"
    )
    shop.visit(acme, 5, score=2, outcome="missed", visit_date="2026-02-24")
    shop.visit(acme, 40, score=9, outcome="met", visit_date="2026-01-20")
    shop.visit(acme, 0.5, outcome="note only")
    shop.visit(bolt, 2, score=7, outcome="met", met_at="2026-01-01T00:00:00Z")
    shop.visit(None, 1, score=100, outcome="met")  # no customer
    return shop


def test_registered_never_stored():
    assert get("rollup") is RollupField
    assert RollupField.label["zh-CN"] == "汇总"
    assert (RollupField.stored, RollupField.read_only) == (False, True)
    assert (RollupField.can_filter, RollupField.can_sort) == (False, False)
    assert rollup("count").cel_type == "int"
    assert rollup("sum", "score").cel_type == "double"


def test_count(shop):
    assert shop.read(rollup("count")) == {"acme": 4, "bolt": 1, "calm": 0}
    assert shop.read(rollup("count", "score")) == {"acme": 3, "bolt": 1, "calm": 0}


def test_sum_and_avg(shop):
    assert shop.read(rollup("sum", "score")) == {"acme": 15.0, "bolt": 7.0, "calm": 0}
    assert shop.read(rollup("avg", "score")) == {"acme": 5.0, "bolt": 7.0, "calm": None}


def test_min_and_max(shop):
    assert shop.read(rollup("min", "score")) == {"acme": 2.0, "bolt": 7.0, "calm": None}
    assert shop.read(rollup("max", "score")) == {"acme": 9.0, "bolt": 7.0, "calm": None}
    assert shop.read(rollup("max", "visit_date")) == {
        "acme": "2026-02-28",
        "bolt": None,
        "calm": None,
    }


def test_latest_value_by_creation_time(shop):
    assert shop.read(rollup("latest", "outcome")) == {
        "acme": "note only",
        "bolt": "met",
        "calm": None,
    }
    # the newest visit without a score is skipped
    assert shop.read(rollup("latest", "score")) == {"acme": 4, "bolt": 7, "calm": None}


def test_window_on_creation_time(shop):
    last_30_days = rollup("count", window={"days": 30})
    assert shop.read(last_30_days) == {"acme": 3, "bolt": 1, "calm": 0}
    assert shop.read(rollup("sum", "score", window={"field": "created_at", "days": 3})) == {
        "acme": 4.0,
        "bolt": 7.0,
        "calm": 0,
    }


def test_window_on_a_date_field(shop):
    # today is 2026-03-01 in Shanghai; 5 days back is 2026-02-24, included
    window = {"field": "visit_date", "days": 5}
    assert shop.read(rollup("count", window=window)) == {"acme": 2, "bolt": 0, "calm": 0}


def test_window_on_a_datetime_field(shop):
    window = {"field": "met_at", "days": 30}
    assert shop.read(rollup("count", window=window)) == {"acme": 1, "bolt": 0, "calm": 0}


def test_filter_given_compiled(shop):
    met = Q(data__outcome="met")
    assert shop.read(rollup("count"), extra_q=met) == {"acme": 2, "bolt": 1, "calm": 0}
    recent_met = rollup("avg", "score", window={"days": 30})
    assert shop.read(recent_met, extra_q=met) == {"acme": 4.0, "bolt": 7.0, "calm": None}


def test_filter_from_the_definition(shop):
    met = rollup("count", filter={"field": "outcome", "op": "eq", "value": "met"})
    assert shop.read(met) == {"acme": 2, "bolt": 1, "calm": 0}


def test_one_query_for_a_list_with_several_rollups(shop, django_assert_num_queries):
    count, total = rollup("count"), field({**rollup("sum", "score").definition, "key": "total"})
    annotations = {
        f.alias: f.annotation(
            record_model=Record, source_form_id=shop.visits.pk, source_definition=VISITS, now=NOW
        )
        for f in (count, total)
    }
    with django_assert_num_queries(1):
        rows = list(
            Record.objects.filter(form=shop.customers).annotate(**annotations).order_by("pk")
        )
    assert [(getattr(r, count.alias), getattr(r, total.alias)) for r in rows] == [
        (4, 15.0),
        (1, 7.0),
        (0, 0),
    ]


def test_filter_and_sort_on_the_annotation(shop):
    count = rollup("count")
    annotated = Record.objects.filter(form=shop.customers).annotate(
        **{
            count.alias: count.annotation(
                record_model=Record,
                source_form_id=shop.visits.pk,
                source_definition=VISITS,
                now=NOW,
            )
        }
    )
    fewer_than_two = annotated.filter(count.filter_q("lt", count.filter_value("lt", 2)))
    assert sorted(r.data["name"] for r in fewer_than_two) == ["bolt", "calm"]
    by_count = annotated.order_by(count.sort_expression().desc())
    assert [r.data["name"] for r in by_count] == ["acme", "bolt", "calm"]


# --- definitions -----------------------------------------------------------------------
def source_errors(field_type: RollupField, source=VISITS) -> list[tuple[str, str]]:
    form = {**CUSTOMERS, "fields": [*CUSTOMERS["fields"], field_type.definition]}
    return [(e.path, e.code) for e in field_type.check_source(form, source)]


def test_options():
    base = {"key": "n", "type": "rollup", "source": {"form": "visits", "field": "customer"}}
    assert option_errors({**base, "function": "count"}) == []
    assert option_errors({**base, "function": "median", "value_field": "score"}) == [
        ("fields.0.function", "INVALID_CHOICE")
    ]
    assert option_errors({**base, "function": "sum"}) == [("fields.0.value_field", "REQUIRED")]
    assert option_errors({**base, "function": "count", "window": {"days": 0}}) == [
        ("fields.0.window.days", "OUT_OF_RANGE")
    ]
    assert option_errors({**base, "function": "count", "window": {"days": 3651}}) == [
        ("fields.0.window.days", "OUT_OF_RANGE")
    ]
    assert option_errors({**base, "function": "count", "source": {"form": "visits"}}) == [
        ("fields.0.source", "REQUIRED")
    ]


def test_source_checks_pass_for_a_good_rollup():
    assert source_errors(rollup("sum", "score", window={"field": "visit_date", "days": 30})) == []
    assert source_errors(rollup("latest", "outcome")) == []


def test_source_field_must_be_a_single_relation_to_this_form():
    for relation in ("score", "tags", "lead", "nothing"):
        broken = field(
            {**rollup("count").definition, "source": {"form": "visits", "field": relation}}
        )
        assert source_errors(broken) == [("fields.1.source.field", "ROLLUP_INVALID_SOURCE")]


def test_value_field_checks():
    assert source_errors(rollup("sum", "outcome")) == [
        ("fields.1.value_field", "ROLLUP_NOT_NUMERIC")
    ]
    assert source_errors(rollup("max", "tags")) == [
        ("fields.1.value_field", "ROLLUP_NOT_COMPARABLE")
    ]
    assert source_errors(rollup("min", "ghost")) == [("fields.1.value_field", "UNKNOWN_REFERENCE")]


def test_window_field_checks():
    assert source_errors(rollup("count", window={"field": "outcome", "days": 7})) == [
        ("fields.1.window.field", "ROLLUP_INVALID_WINDOW")
    ]


def test_filter_checks():
    bad = rollup("count", filter={"field": "ghost", "op": "eq", "value": 1})
    assert source_errors(bad) == [("fields.1.filter.field", "UNKNOWN_FIELD")]


def test_a_rollup_over_its_own_form_is_checked_at_once():
    own = {
        "key": "team",
        "name": "Team",
        "fields": [
            {"key": "parent", "type": "relation", "label": "P", "target": "team"},
            {"key": "size", "type": "number", "label": "S"},
            {
                "key": "children",
                "type": "rollup",
                "label": "C",
                "function": "sum",
                "value_field": "name",
                "source": {"form": "team", "field": "parent"},
            },
            {"key": "name", "type": "text", "label": "N"},
        ],
    }
    children = field(own["fields"][2])
    assert [(e.path, e.code) for e in children.check_definition(own)] == [
        ("fields.2.value_field", "ROLLUP_NOT_NUMERIC")
    ]


def test_schema_and_hints():
    assert rollup("count").json_schema() == {"type": "integer", "minimum": 0}
    assert rollup("avg", "score").json_schema() == {"type": "number"}
    assert rollup("latest", "outcome").ui_hints() == {
        "widget": "rollup",
        "function": "latest",
        "readOnly": True,
    }


def test_sums_and_averages_are_doubles_in_cel_even_when_whole():
    """A whole sum comes back from SQL as an int; CEL must still see a double, or
    ``purchases_12m * 0.03`` fails with "no such overload" exactly at round amounts."""
    from decimal import Decimal

    from dajian.platform.expressions import compile_expression

    total = rollup("sum", "score")
    for raw in (Decimal("500000"), 500000, Decimal("500000.5")):
        value = total.to_cel(total.to_api(raw))
        assert isinstance(value, float)
        assert compile_expression("agg * 0.03").evaluate({"agg": value}) == pytest.approx(
            float(raw) * 0.03
        )
    assert isinstance(rollup("avg", "score").to_cel(7), float)
    assert rollup("count").to_cel(3) == 3
    assert rollup("latest", "outcome").to_cel("won") == "won"
