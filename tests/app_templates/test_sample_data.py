"""Sample data: realistic Chinese business records, split by weights, pointing at each
other and at the right people, spread over time and stages, repeatable by seed."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from django.utils import timezone
from faker import Faker

from dajian.app_templates.faker_providers import (
    FMCG_BRANDS,
    INDUSTRIAL_BRANDS,
    REGIONS,
    SalesProvider,
    credit_code_check,
    is_valid_credit_code,
)
from dajian.app_templates.installer import install_template, uninstall_app
from dajian.app_templates.sample_data import generate, split
from dajian.builder.fields import registry
from dajian.builder.services.forms import save_form_draft
from dajian.platform.errors import DajianError
from dajian.platform.expressions.functions import distance_m
from dajian.platform.models import Attachment
from dajian.runtime.models import OutboxEvent, Record, StageEntry
from tests.factories import make_actor

pytestmark = pytest.mark.django_db
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def records(form_key: str) -> list[Record]:
    return list(Record.objects.filter(form__key=form_key).order_by("pk"))


@pytest.fixture
def sample(admin_actor, team):
    report = install_template(admin_actor, "mini_crm", sample_data=True, records=60)
    return report


def test_the_total_is_split_by_the_weights_and_fixed_rows_go_first(sample):
    counts = Counter(Record.objects.values_list("form__key", flat=True))

    assert counts == {"customer": 20, "visit": 30, "opportunity": 10, "product": 2}
    assert sample.records == 62
    first = Record.objects.order_by("pk").first()
    assert first.data == {"name": "农夫山泉 饮用天然水 550ml×24", "price": 36.0}


def test_values_look_like_chinese_business_data(sample):
    customers = records("customer")
    names = [c.data["name"] for c in customers]
    assert all(CHINESE.search(n) and n.endswith("公司") for n in names)
    cities = [c.data["city"] for c in customers if "city" in c.data]
    assert cities and all(re.search(r"[市县]$", city) for city in cities)
    codes = [c.data["credit_code"] for c in customers if "credit_code" in c.data]
    assert codes and all(is_valid_credit_code(code) for code in codes)
    phones = [c.data["phone"] for c in customers if "phone" in c.data]
    assert phones and all(re.fullmatch(r"1\d{10}", p) for p in phones)
    assert {c.data.get("level") for c in customers} <= {"A", "B", "C", None}


def test_relations_point_at_sample_records_of_their_target(sample):
    customers = {c.pk: c for c in records("customer")}
    visits = records("visit")

    assert all(v.data["customer"] in customers for v in visits)  # required: always set
    same_owner = sum(customers[v.data["customer"]].owner_id == v.owner_id for v in visits)
    assert same_owner >= len(visits) * 0.6  # reps visit their own customers
    products = {p.pk for p in records("product")}
    linked = [o.data["product"] for o in records("opportunity") if "product" in o.data]
    assert linked and set(linked) <= products


def test_owners_may_create_the_form_and_reps_own_most(sample, team):
    reps = {u.pk for u in team["reps"]}
    manager, admin = team["manager"].pk, team["admin"].pk
    for form_key in ("customer", "visit", "opportunity"):
        owners = Counter(r.owner_id for r in records(form_key))
        assert set(owners) <= reps | {manager, admin}
        assert sum(owners[r] for r in reps) > owners[manager]
    # only managers may create products (the rep rule has create: false)
    assert {p.owner_id for p in records("product")} <= {manager}
    # user fields hold members too
    helpers = {o.data["owner_rep"] for o in records("opportunity") if "owner_rep" in o.data}
    assert helpers and helpers <= reps | {manager, admin}


def test_records_spread_over_half_a_year_and_the_funnel(sample):
    now = timezone.now()
    created = [r.created_at for r in Record.objects.exclude(form__key="product")]
    assert all(now - dt.timedelta(days=181) <= c <= now for c in created)
    assert min(created) < now - dt.timedelta(days=90) and max(created) > now - dt.timedelta(days=60)
    weekdays = Counter(c.astimezone(dt.timezone(dt.timedelta(hours=8))).weekday() for c in created)
    assert sum(weekdays[d] for d in (5, 6)) < len(created) * 0.15
    assert all(r.updated_at >= r.created_at for r in Record.objects.all())

    deals = records("opportunity")
    assert len({d.stage for d in deals}) >= 2
    for deal in deals:
        entries = list(StageEntry.objects.filter(record=deal).order_by("entered_at"))
        assert entries[0].stage == "requirement" and entries[-1].stage == deal.stage
        assert entries[-1].exited_at is None
        if deal.stage == "proposal":  # left requirement: its fields are filled
            assert deal.data.get("pain_point") and deal.data.get("next_follow_up_at")
    numbers = [d.data["no"] for d in sorted(deals, key=lambda d: d.created_at)]
    assert numbers == sorted(numbers)  # autonumbers follow creation time


def test_validation_applies_flags_but_no_automation_fires(admin_actor, team):
    before = OutboxEvent.objects.count()

    install_template(admin_actor, "mini_crm", sample_data=True, records=120)

    assert OutboxEvent.objects.count() == before
    visits = records("visit")
    flagged = [v for v in visits if "pending_verification" in v.flags]
    assert 0 < len(flagged) < len(visits) * 0.25  # a few miss their photo or location
    for visit in flagged:
        assert not visit.data.get("photos") or not visit.data.get("location")


def test_photos_and_places_look_like_field_work(admin_actor, team):
    install_template(admin_actor, "mini_crm", sample_data=True, records=120)

    photos = {pk for v in records("visit") for pk in v.data.get("photos", [])}
    assert (
        photos
        and set(Attachment.objects.filter(pk__in=photos, kind="image").values_list("pk", flat=True))
        == photos
    )
    customers = {c.pk: c.data.get("location") for c in records("customer")}
    near = far = 0
    for visit in records("visit"):
        here, there = visit.data.get("location"), customers[visit.data["customer"]]
        if here and there:
            metres = distance_m(here, there)
            near += metres <= 150
            far += metres > 500
    assert near > 0 and far < near * 0.15  # visits happen at the customer's, mostly


def test_the_seed_makes_it_repeatable(admin_actor, team):
    install_template(admin_actor, "mini_crm", sample_data=True, records=20)
    first = [(c.data, c.owner_id, c.created_at) for c in records("customer")]
    uninstall_app(admin_actor, "mini_crm", purge=True)

    install_template(admin_actor, "mini_crm", sample_data=True, records=20)
    again = [(c.data, c.owner_id) for c in records("customer")]
    generate(admin_actor, "mini_crm", 20, seed=7, weights={"customer": 1})
    other_seed = [c.data["name"] for c in records("customer")][len(again) :]

    assert again == [(data, owner) for data, owner, _ in first]
    assert len(other_seed) == 20
    assert other_seed != [data["name"] for data, _ in again]


LEVELS = [
    {"key": "level", "type": "single_select", "label": "Level", "required": True,
     "choices": [{"value": v, "label": v} for v in "ABC"]},
]  # fmt: skip
ONE_PER_LEVEL = [{"key": "level", "fields": ["level"], "action": "block"}]


def test_duplicates_are_generated_again(admin_actor, form_factory):
    form_factory(LEVELS, key="tier", duplicates=ONE_PER_LEVEL)

    assert generate(admin_actor, "sales", 3) == 3

    assert sorted(r.data["level"] for r in records("tier")) == ["A", "B", "C"]


def test_impossible_sample_data_is_a_typed_error(admin_actor, form_factory):
    form_factory(LEVELS, key="tier", duplicates=ONE_PER_LEVEL)

    with pytest.raises(DajianError) as caught:
        generate(admin_actor, "sales", 4)

    error = caught.value.errors[0]
    assert (error.code, error.path) == ("SAMPLE_DATA_FAILED", "forms/tier.json: level")
    assert not Record.objects.exists()  # all or nothing


def test_only_admins_generate(workspace, team, form_factory):
    form_factory(LEVELS, key="tier")
    with pytest.raises(DajianError) as caught:
        generate(make_actor(team["reps"][0], workspace), "sales", 2)
    assert caught.value.errors[0].code == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (60, {"a": 2, "b": 3, "c": 1}, {"a": 20, "b": 30, "c": 10}),
        (10, {"a": 1, "b": 1, "c": 1}, {"a": 4, "b": 3, "c": 3}),
        (7, None, {"a": 3, "b": 2, "c": 2}),
        (5, {"a": 1}, {"a": 5, "b": 0, "c": 0}),
        (0, None, {"a": 0, "b": 0, "c": 0}),
    ],
)
def test_split(total, weights, expected):
    assert split(total, ["a", "b", "c"], weights) == expected


# --- providers and example values --------------------------------------------------------


@pytest.fixture
def faker():
    fake = Faker("zh_CN")
    fake.seed_instance(11)
    fake.add_provider(SalesProvider)
    return fake


def test_credit_codes_carry_both_check_digits(faker):
    codes = [faker.credit_code() for _ in range(500)]
    assert all(len(c) == 18 and is_valid_credit_code(c) for c in codes)
    assert is_valid_credit_code("914403001922038216")  # a real company's code
    assert not is_valid_credit_code("914403001922038217")
    assert credit_code_check("91110000100010433") == "L"


def test_products_regions_stores_and_slogans(faker):
    brands = (*FMCG_BRANDS, *INDUSTRIAL_BRANDS)
    assert all(faker.product().split(" ")[0] in brands for _ in range(50))
    assert {faker.region() for _ in range(200)} == set(REGIONS)
    assert re.fullmatch(r".+\(.+店\)", faker.store())
    assert CHINESE.search(faker.catch_phrase())


def test_example_hints_are_an_allow_list(admin_actor, form_factory):
    form_factory([{"key": "name", "type": "text", "label": "Name", "example": "company"}], key="ok")
    bad = {
        "key": "bad",
        "name": "Bad",
        "fields": [
            {"key": "name", "type": "text", "label": "Name", "example": "credit_card_number"}
        ],
    }
    with pytest.raises(DajianError) as caught:
        save_form_draft(admin_actor, "sales", "bad", bad)
    assert [(e.code, e.path) for e in caught.value.errors] == [
        ("INVALID_DEFINITION", "fields.0.example")
    ]


def test_example_values_of_field_types(faker):
    def example(**definition):
        return registry.build({"key": "f", "label": "F", **definition}).example_value(faker)

    words = example(type="text")
    assert CHINESE.search(words) and 2 <= len(words) <= 8
    assert len(example(type="text", max_length=3)) <= 3
    assert len(example(type="text", min_length=12)) >= 12
    assert example(type="text", pattern="^[A-Z]{3}$") is None
    assert len(example(type="long_text", min_length=300)) >= 300
    amounts = [example(type="money") for _ in range(50)]
    assert all(100 <= a <= 100_000 and a % 100 == 0 for a in amounts)
    assert all(0 <= example(type="money", min=0, max=50) <= 50 for _ in range(20))
    assert all(0 <= example(type="money", max=50) <= 50 for _ in range(20))


def test_recent_past_and_near_future_are_moments_near_now(faker):
    now = dt.datetime.now(dt.UTC)
    past = [dt.datetime.fromisoformat(faker.recent_past()) for _ in range(200)]
    future = [dt.datetime.fromisoformat(faker.near_future()) for _ in range(200)]
    assert all(
        now - dt.timedelta(days=40, seconds=5) <= t <= now + dt.timedelta(seconds=5) for t in past
    )
    assert all(now < t <= now + dt.timedelta(days=30, seconds=5) for t in future)
    assert len({t.date() for t in past}) > 20  # spread over the window, not one day
