"""Monthly targets of the store sales app: set by the supervisor, owned by the rep, one
per rep and month (R5, R23)."""

from __future__ import annotations

import pytest
from graphql_relay import to_global_id

pytest.register_assert_rewrite("tests.acceptance.store_sales_plugin")

from tests.acceptance.store_sales_plugin import StoreSales  # noqa: E402

pytest_plugins = ["tests.acceptance.store_sales_plugin"]


def test_a_target_set_by_the_supervisor_belongs_to_the_rep_once_a_month(shop: StoreSales):
    """R23, R5: the supervisor sets rep1's target for a month; it becomes rep1's record
    (rep1 sees it, rep2 does not, the supervisor still does); a second target for the
    same rep and month is refused; reps cannot set targets."""
    rep1 = to_global_id("User", shop.org["rep1"].pk)
    target = {
        "salesperson": rep1,
        "month": "2026-07",
        "target_amount": 300000,
        "target_valid_visits": 60,
    }

    created = shop.create("supervisor", "target", **target)

    assert created["owner"]["username"] == "rep1"
    assert [t["data"]["month"] for t in shop.records("rep1", "target")] == ["2026-07"]
    assert shop.records("rep2", "target") == []
    assert len(shop.records("supervisor", "target")) == 1
    again = shop.try_create("supervisor", "target", **target)
    assert {e["code"] for e in again["errors"]} == {"DUPLICATE_RECORD"}
    refused = shop.try_create("rep1", "target", **{**target, "month": "2026-08"})
    assert [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"]
    malformed = shop.try_create("supervisor", "target", **{**target, "month": "2026-7"})
    assert [e["field"] for e in malformed["errors"]] == ["month"]
