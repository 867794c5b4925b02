"""Row scopes own / team / department / all and field-level hidden / readonly (R23)."""

from __future__ import annotations

import pytest

from dajian.platform.errors import DajianError
from dajian.platform.org import create_org_unit
from dajian.runtime.models import Record
from dajian.runtime.selectors import get_record, list_records
from dajian.runtime.services.records import create_record, delete_record, update_record
from tests.factories import make_actor, make_user

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "cost", "type": "number", "label": "Cost price"},
    {"key": "note", "type": "text", "label": "Note"},
]
PERMISSIONS = [
    {
        "role": "rep",
        "create": True,
        "read": "own",
        "update": "own",
        "delete": "none",
        "fields": {"cost": "hidden"},
    },
    {"role": "manager", "create": True, "read": "team", "update": "team", "delete": "team"},
    {
        "role": "delivery",
        "read": "all",
        "update": "none",
        "delete": "none",
        "fields": {"note": "readonly"},
    },
    {"role": "finance", "read": "department", "update": "department"},
]


@pytest.fixture
def org(workspace, form_factory, admin_actor):
    """director → manager (sales east) → rep1, rep2; rep3 under another manager."""
    form_factory(FIELDS, permissions=PERMISSIONS)
    director = make_user("director", workspace, roles=["manager"])
    root = create_org_unit(workspace, "Sales", manager=director)
    manager = make_user("manager", workspace, roles=["manager"], org_unit=root)
    east = create_org_unit(workspace, "East", parent=root, manager=manager)
    people = {
        "director": director,
        "manager": manager,
        "rep1": make_user("rep1", workspace, roles=["rep"], org_unit=east),
        "rep2": make_user("rep2", workspace, roles=["rep"], org_unit=east),
        "other_mgr": make_user("other_mgr", workspace, roles=["manager"]),
        "delivery": make_user("delivery", workspace, roles=["delivery"]),
        "finance": make_user("finance", workspace, roles=["finance"], org_unit=east),
        "nobody": make_user("nobody", workspace, roles=["guest"]),
    }
    west = create_org_unit(workspace, "West", parent=root, manager=people["other_mgr"])
    people["rep3"] = make_user("rep3", workspace, roles=["rep"], org_unit=west)
    actors = {k: make_actor(u, workspace) for k, u in people.items()}
    records = {
        k: create_record(actors[k], "sales", "customer", {"name": k}).record
        for k in ("rep1", "rep2", "rep3", "manager")
    }
    for record in records.values():  # the cost price is set by someone who may see it
        update_record(admin_actor, record.pk, {"cost": 10})
    return actors, records


def visible(actor):
    page = list_records(actor, "sales", "customer", first=100)
    return sorted(v.record.data["name"] for v in page.items)


def test_read_scopes(org):
    actors, _ = org
    assert visible(actors["rep1"]) == ["rep1"]
    assert visible(actors["manager"]) == ["manager", "rep1", "rep2"]  # east, recursively
    assert visible(actors["director"]) == ["manager", "rep1", "rep2", "rep3"]
    assert visible(actors["other_mgr"]) == ["rep3"]
    assert visible(actors["delivery"]) == ["manager", "rep1", "rep2", "rep3"]
    assert visible(actors["finance"]) == ["rep1", "rep2"]  # own unit and below


def test_no_matching_rule_sees_nothing_and_cannot_create(org):
    actors, _ = org
    assert visible(actors["nobody"]) == []
    with pytest.raises(DajianError) as exc:
        create_record(actors["nobody"], "sales", "customer", {"name": "x"})
    assert exc.value.errors[0].code == "PERMISSION_DENIED"


def test_reading_someone_elses_record_is_not_found(org):
    actors, records = org
    with pytest.raises(DajianError) as exc:
        get_record(actors["rep1"], records["rep2"].pk)
    assert exc.value.errors[0].code == "NOT_FOUND"


def test_write_scopes(org):
    actors, records = org
    with pytest.raises(DajianError) as exc:
        update_record(actors["rep1"], records["rep2"].pk, {"name": "x"})
    assert exc.value.errors[0].code == "NOT_FOUND"
    assert update_record(actors["manager"], records["rep2"].pk, {"name": "rep2b"})
    with pytest.raises(DajianError) as exc:  # can read but not update: denied, not hidden
        update_record(actors["delivery"], records["rep1"].pk, {"name": "x"})
    assert exc.value.errors[0].code == "PERMISSION_DENIED"
    with pytest.raises(DajianError) as exc:
        delete_record(actors["rep1"], records["rep1"].pk)
    assert exc.value.errors[0].code == "PERMISSION_DENIED"
    delete_record(actors["manager"], records["rep1"].pk)
    assert not Record.objects.filter(pk=records["rep1"].pk).exists()


def test_hidden_fields_are_absent_and_not_writable(org):
    actors, records = org
    view = get_record(actors["rep1"], records["rep1"].pk)
    assert "cost" not in view.data and view.data["name"] == "rep1"
    assert get_record(actors["manager"], records["rep1"].pk).data["cost"] == 10
    with pytest.raises(DajianError) as exc:
        update_record(actors["rep1"], records["rep1"].pk, {"cost": 1})
    assert exc.value.errors[0].code == "UNKNOWN_FIELD"
    # a hidden field keeps its value when the rep edits the record
    update_record(actors["rep1"], records["rep1"].pk, {"name": "rep1b"})
    assert Record.objects.get(pk=records["rep1"].pk).data["cost"] == 10
    with pytest.raises(DajianError) as exc:  # nor can it be filtered or sorted on
        list_records(
            actors["rep1"], "sales", "customer", filter={"field": "cost", "op": "gt", "value": 1}
        )
    assert exc.value.errors[0].code == "UNKNOWN_FIELD"


def test_readonly_fields(org, workspace, form_factory):
    actors, _ = org
    delivery_rules = [
        {"role": "delivery", "read": "all", "update": "all", "fields": {"note": "readonly"}}
    ]
    form_factory(FIELDS, key="project", permissions=delivery_rules)
    admin = make_user("adm2", workspace, is_admin=True)
    rec = create_record(make_actor(admin, workspace), "sales", "project", {"name": "p"}).record
    with pytest.raises(DajianError) as exc:
        update_record(actors["delivery"], rec.pk, {"note": "x"})
    assert exc.value.errors[0].code == "READ_ONLY_FIELD"
    assert update_record(actors["delivery"], rec.pk, {"name": "p2"})
