"""B2B sales installed with sample data (R34): an admin gets a realistic, consistent app
to try — Chinese companies, people and cities, relations between the records, flags where
evidence is missing, records spread over the funnel, and dashboards that compute."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.acceptance.b2b_sales_plugin import B2BSales
    from tests.acceptance.conftest import SalesOrg

pytest_plugins = ["tests.acceptance.b2b_sales_plugin"]

DASHBOARD = """
query($key: String!) { dashboard(app: "b2b_sales", key: $key) { widgets { key color data } } }
"""
CJK = re.compile(r"[\u4e00-\u9fff]{2,}")
CREDIT_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
SKUS = {
    "EQ-VMC850",
    "EQ-CK6150",
    "EQ-RB20",
    "EQ-PLC-C",
    "CS-SV2K",
    "CS-INS10",
    "CS-HO46",
    "SW-IOT",
    "SW-MES",
    "SV-INST",
    "SV-MAINT",
    "SV-TRAIN",
}


def test_the_template_installs_with_realistic_sample_data(sales_org: SalesOrg):
    """R34 (with R3, R5, R23, R27): 120 generated records after the 12 fixed products."""
    from tests.acceptance.b2b_sales_plugin import B2BSales, install_b2b

    assert install_b2b(sales_org, records=120) == {"action": "installed", "records": 132}
    b2b: B2BSales = B2BSales(sales_org)

    def everything(form: str) -> list[dict]:
        return b2b.records("admin", form)

    customers, products = everything("customer"), everything("product")
    assert {p["data"]["sku"] for p in products} >= SKUS
    assert len(customers) >= 10
    for customer in customers:
        data = customer["data"]
        assert CJK.search(data["name"]) and CJK.search(data["city"]), data
        assert CREDIT_CODE.match(data["credit_code"]), data
    assert len({c["data"]["credit_code"] for c in customers}) == len(customers)
    assert len({(c["data"]["name"], c["data"]["city"]) for c in customers}) == len(customers)
    # "recent_past": sample customers were contacted lately, so the 30/45-day silence
    # rules do not send half the sample back to the pool right after installing
    now = dt.datetime.now(dt.UTC)
    contacted = [
        dt.datetime.fromisoformat(c["data"]["last_contact_at"])
        for c in customers
        if c["data"].get("last_contact_at")
    ]
    assert contacted and all(now - dt.timedelta(days=41) <= t <= now for t in contacted), contacted

    customer_ids, product_ids = {c["id"] for c in customers}, {p["id"] for p in products}
    contacts, deals = everything("contact"), everything("opportunity")
    assert all(CJK.search(c["data"]["name"]) for c in contacts)
    assert {c["data"]["customer"] for c in contacts} <= customer_ids
    assert {d["data"]["customer"] for d in deals} <= customer_ids
    assert len({d["stage"] for d in deals}) >= 3  # spread over the funnel
    for quote in everything("quote"):
        assert {line["product"] for line in quote["data"]["lines"]} <= product_ids

    follow_ups = everything("follow_up")
    assert follow_ups
    for note in follow_ups:
        unproven = note["data"]["method"] == "visit" and not note["data"].get("files")
        assert ("pending_verification" in note["flags"]) == unproven, note

    funnel = _widget(b2b, "director", "sales_overview", "funnel")
    assert sum(row["values"]["n"] for row in funnel["data"]["rows"]) == len(deals)
    bins = _widget(b2b, "director", "project_health", "health_bins")
    assert sum(row["values"]["n"] for row in bins["data"]["rows"]) == len(everything("project"))
    assert _widget(b2b, "director", "sales_overview", "win_rate")["color"] in {
        "green",
        "yellow",
        "red",
    }
    mine = b2b.records("rep1", "customer")
    assert {c["owner"]["username"] for c in mine if c["owner"]} <= {"rep1"}
    assert len(mine) < len(customers)
    # installing again changes nothing
    assert install_b2b(sales_org) == {"action": "unchanged", "records": 0}
    assert len(everything("customer")) == len(customers)


def _widget(b2b: B2BSales, username: str, dashboard: str, key: str) -> dict:
    board = b2b.call(username, DASHBOARD, key=dashboard)["dashboard"]
    (widget,) = [w for w in board["widgets"] if w["key"] == key]
    return widget
