"""Store visits in the store sales app: evidence, the check-in distance, "today's
visits", who sees what, and the valid-visit KPI (R2, R3, R23, R27, R28, R34)."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.register_assert_rewrite("tests.acceptance.store_sales_plugin")

from tests.acceptance.store_sales_plugin import STORE_POINT, StoreSales, north_of, today  # noqa: E402

pytest_plugins = ["tests.acceptance.store_sales_plugin"]

VALID = {"field": "flags", "op": "ncontains", "value": "pending_verification"}


def test_a_visit_without_a_shelf_photo_is_saved_flagged_and_not_counted(shop: StoreSales):
    """R2, R3, R27, R28: a visit lacking one piece of evidence (the shelf photo) is saved
    but marked pending verification; it counts in no valid-visit figure (the store's
    rollup, the valid-visit list, the KPI) until the photo is added."""
    store = shop.store("rep1", "联华超市（徐汇店）", level="A")
    complete = shop.visit("rep1", store, **shop.evidence("rep1"))
    evidence = shop.evidence("rep1")
    del evidence["shelf_photos"]

    partial = shop.visit("rep1", store, **evidence)

    assert complete["flags"] == []
    assert partial["flags"] == ["pending_verification"]
    assert [v["id"] for v in shop.records("supervisor", "visit", filter=VALID)] == [complete["id"]]
    figures = shop.record("rep1", store["id"])["data"]
    assert (figures["valid_visits_this_month"], figures["visits_this_month"]) == (1, 2)
    kpi = shop.dashboard("supervisor")["valid_visit_rate"]
    assert kpi["data"]["value"] == pytest.approx(0.5)

    shop.update("rep1", partial["id"], shelf_photos=[shop.photo("rep1")])

    assert shop.record("rep1", partial["id"])["flags"] == []
    assert shop.record("rep1", store["id"])["data"]["valid_visits_this_month"] == 2
    assert shop.dashboard("supervisor")["valid_visit_rate"]["data"]["value"] == pytest.approx(1.0)


def test_a_check_in_2_km_from_the_store_is_flagged(shop: StoreSales):
    """R2, R3: the check-in point is compared with the store's location (copied onto the
    visit by the system, not typed by the rep): 2 km away flags the visit
    ``far_from_store`` and pending verification; 100 m away is a valid visit."""
    store = shop.store("rep1", "好德便利（漕溪北路店）")
    far = {**shop.evidence("rep1"), "checkin_location": north_of(STORE_POINT, 2000)}
    near = {**shop.evidence("rep1"), "checkin_location": north_of(STORE_POINT, 100)}

    far_visit = shop.visit("rep1", store, **far)
    near_visit = shop.visit("rep1", store, **near)

    assert far_visit["flags"] == ["far_from_store", "pending_verification"]
    assert near_visit["flags"] == []
    assert far_visit["data"]["store_location"] == STORE_POINT
    spoofed = shop.try_update("rep1", far_visit["id"], store_location=far["checkin_location"])
    assert [e["code"] for e in spoofed["errors"]] == ["READ_ONLY_FIELD"]


def test_reps_start_from_todays_visits(shop: StoreSales):
    """R34 (store visits start from "today's visits"): the supervisor plans visits by
    date; the rep's list of today's visits holds today's plan, not tomorrow's."""
    store = shop.store("rep1", "华润万家（田林店）")
    planned_today = shop.visit("rep1", store)
    shop.visit("rep1", store, day=today() + dt.timedelta(days=1))

    todays = {"field": "planned_date", "op": "eq", "value": {"ago": {"days": 0}}}
    assert [v["id"] for v in shop.records("rep1", "visit", filter=todays)] == [planned_today["id"]]
    # a planned visit is not a valid visit until it is carried out with its evidence
    assert planned_today["flags"] == ["pending_verification"]


def test_each_role_sees_its_own_part_of_the_stores_and_visits(shop: StoreSales):
    """R23: a rep sees only their stores and visits, the supervisor the team's, the
    regional manager the region's, the admin everything; the cost price of products is
    hidden from reps and supervisors."""
    for rep, region in (("rep1", "east"), ("rep2", "east"), ("rep3", "south")):
        store = shop.store(rep, f"{rep} 的门店", region=region)
        shop.visit(rep, store, **shop.evidence(rep))

    assert shop.names("rep1") == ["rep1 的门店"]
    assert shop.names("rep2") == ["rep2 的门店"]
    assert shop.names("supervisor") == ["rep1 的门店", "rep2 的门店"]
    assert shop.names("supervisor2") == ["rep3 的门店"]
    assert shop.names("regional") == ["rep1 的门店", "rep2 的门店"]
    assert shop.names("regional2") == ["rep3 的门店"]
    assert shop.names("admin") == ["rep1 的门店", "rep2 的门店", "rep3 的门店"]
    visits = {u: len(shop.records(u, "visit")) for u in ("rep1", "supervisor", "regional2")}
    assert visits == {"rep1": 1, "supervisor": 2, "regional2": 1}

    shop.create(
        "admin",
        "product",
        name="清泉矿泉水 550ml",
        sku_code="6901234567892",
        product_line="beverage",
        supply_price=28.5,
        cost_price=19.8,
    )
    seen = {u: shop.records(u, "product")[0]["data"] for u in ("rep1", "supervisor", "regional")}
    assert "cost_price" not in seen["rep1"] and "cost_price" not in seen["supervisor"]
    assert seen["regional"]["cost_price"] == 19.8


@pytest.mark.parametrize(("valid", "color"), [(7, "green"), (5, "yellow"), (4, "red")])
def test_the_valid_visit_kpi_shows_its_traffic_light(shop: StoreSales, valid: int, color: str):
    """R27, R28: valid visits / all visits of the last 30 days, green at 65% and above,
    yellow from 45% to 64%, red below 45%."""
    store = shop.store("rep1", "联华超市（徐汇店）")
    complete = shop.evidence("rep1")
    no_photos = {k: v for k, v in complete.items() if not k.endswith("photos")}
    for i in range(10):
        shop.visit("rep1", store, **(complete if i < valid else no_photos))

    kpi = shop.dashboard("supervisor")["valid_visit_rate"]

    assert kpi["data"]["value"] == pytest.approx(valid / 10)
    assert kpi["color"] == color
