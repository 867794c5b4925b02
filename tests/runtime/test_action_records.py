"""The actions of automations that write other records: ``create_record`` and
``update_related`` — their save-time checks and what they write — and the schemas of
the record actions."""

from __future__ import annotations

from dajian.platform.models import AuditEvent
from dajian.runtime.automations import actions
from dajian.runtime.automations.actions import update_related
from dajian.runtime.models import OutboxEvent, Record, RecordStatus
from tests.automation_helpers import run_action
from tests.factories import build_form, make_actor, make_user
from tests.runtime.action_helpers import CONTRACT, VISIT, as_, check, context, contract, customer

pytest_plugins = ["tests.runtime.action_plugin"]


# --- create_record ---------------------------------------------------------------------


VISIT_SPEC = {
    "type": "create_record",
    "form": "visit",
    "values": {"customer": "record.id", "note": "'Follow up ' + name", "planned": "credit"},
}


def test_create_record_checks(forms, people, admin_actor):
    form = forms["customer"]
    build_form(admin_actor, VISIT, key="draft_only", publish=False)
    assert check(form, {**VISIT_SPEC, "form": "nope"}) == [("UNKNOWN_FORM", "actions.0.form")]
    assert check(form, {**VISIT_SPEC, "form": "draft_only"}) == [("UNKNOWN_FORM", "actions.0.form")]
    assert check(form, {**VISIT_SPEC, "values": {"nope": "1", "note": "nme"}}) == [
        ("UNKNOWN_FIELD", "actions.0.values.nope"),
        ("UNKNOWN_REFERENCE", "actions.0.values.note"),
    ]
    assert check(form, VISIT_SPEC) == []


def test_create_record_creates_it_for_the_source_owner(forms, people, workspace, admin_actor):
    source = customer(as_(people["rep"], workspace), name="Alpha", credit=3)

    outcomes = run_action(admin_actor, forms["customer"], VISIT_SPEC, [source])

    visit = Record.objects.get(form=forms["visit"])
    assert outcomes[0].result == {"record": visit.pk, "created": True, "owner": people["rep"].pk}
    assert visit.data == {"customer": source.pk, "note": "Follow up Alpha", "planned": 3}
    assert visit.owner_id == people["rep"].pk and visit.created_by_id is None
    topics = list(
        OutboxEvent.objects.filter(payload__record=visit.pk).values_list("topic", flat=True)
    )
    # created with its owner: no second write to hand it over
    assert topics == ["record.created"]


def test_create_record_run_again_in_the_same_firing_creates_nothing(
    forms, people, workspace, admin_actor
):
    source = customer(as_(people["rep"], workspace))
    action, ctx, targets = context(admin_actor, forms["customer"], VISIT_SPEC, [source])

    first = action.run(ctx, targets)
    again = action.run(ctx, targets)

    assert Record.objects.filter(form=forms["visit"]).count() == 1
    assert again[0].result["record"] == first[0].result["record"]
    assert (first[0].result["created"], again[0].result["created"]) == (True, False)


def test_create_record_from_a_pool_record_stays_in_the_pool(forms, people, workspace, admin_actor):
    source = customer(as_(people["rep"], workspace))
    Record.objects.filter(pk=source.pk).update(owner=None)

    outcomes = run_action(admin_actor, forms["customer"], VISIT_SPEC, [source])

    assert outcomes[0].result["owner"] is None
    assert Record.objects.get(form=forms["visit"]).owner_id is None


def test_create_record_stays_in_the_workspace(
    forms, people, workspace, other_workspace, admin_actor
):
    outsider = make_user("owner2", other_workspace, is_admin=True)
    build_form(make_actor(outsider, other_workspace), VISIT, key="visit")
    source = customer(as_(people["rep"], workspace))

    run_action(admin_actor, forms["customer"], VISIT_SPEC, [source])

    assert Record.objects.filter(workspace=other_workspace).count() == 0
    assert Record.objects.filter(workspace=workspace, form=forms["visit"]).count() == 1


def test_create_record_refused_by_validation_fails_for_good(forms, people, workspace, admin_actor):
    source = customer(as_(people["rep"], workspace))
    spec = {**VISIT_SPEC, "values": {"customer": "999999"}}

    outcomes = run_action(admin_actor, forms["customer"], spec, [source])

    assert not outcomes[0].ok and not outcomes[0].retry
    assert "INVALID_REFERENCE" in outcomes[0].error
    assert not Record.objects.filter(form=forms["visit"]).exists()


# --- update_related --------------------------------------------------------------------


FREEZE = {
    "type": "update_related",
    "form": "contract",
    "via": "customer",
    "filter": {"field": "delivered", "op": "eq", "value": False},
    "values": {"freeze_reason": "'payment anomaly of ' + name"},
    "status": "frozen",
}


def test_update_related_checks(forms, people):
    form = forms["customer"]
    assert check(form, {**FREEZE, "form": "nope"}) == [("UNKNOWN_FORM", "actions.0.form")]
    both = {**FREEZE, "through": "main_contract"}
    assert check(form, both) == [("ONE_LINK", "actions.0.via")]
    assert check(form, {**FREEZE, "via": "title"}) == [("NOT_A_RELATION", "actions.0.via")]
    through = {k: v for k, v in FREEZE.items() if k != "via"}
    assert check(form, {**through, "through": "sales"}) == [("NOT_A_RELATION", "actions.0.through")]
    bad = {**FREEZE, "filter": {"field": "nope", "op": "eq", "value": 1}, "values": {"x": "1"}}
    assert sorted(check(form, bad)) == [
        ("UNKNOWN_FIELD", "actions.0.filter.field"),
        ("UNKNOWN_FIELD", "actions.0.values.x"),
    ]
    nothing = {"type": "update_related", "form": "contract", "via": "customer"}
    assert check(form, nothing) == [("NOTHING_TO_DO", "actions.0")]
    assert check(form, FREEZE) == []
    assert check(form, {**through, "through": "main_contract"}) == []


def test_update_related_freezes_the_undelivered_contracts(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    anomalous, fine = customer(rep, name="Alpha"), customer(rep, name="Beta")
    open_one = contract(rep, customer=anomalous.pk, delivered=False)
    delivered = contract(rep, customer=anomalous.pk, delivered=True)
    pending = contract(rep, customer=anomalous.pk, delivered=False)
    Record.objects.filter(pk=pending.pk).update(status=RecordStatus.IN_APPROVAL)
    other = contract(rep, customer=fine.pk, delivered=False)

    outcomes = run_action(admin_actor, forms["customer"], FREEZE, [anomalous])

    assert outcomes[0].result == {
        "related": 2,
        "updated": [open_one.pk],
        "status_changed": [open_one.pk],
        "skipped": [pending.pk],
    }
    states = {r.pk: r for r in Record.objects.filter(form=forms["contract"])}
    assert states[open_one.pk].status == RecordStatus.FROZEN
    assert states[open_one.pk].data["freeze_reason"] == "payment anomaly of Alpha"
    assert states[open_one.pk].version == 3  # the values, then the freeze
    for untouched in (delivered, other):
        assert states[untouched.pk].status == RecordStatus.ACTIVE
        assert states[untouched.pk].version == 1
    assert states[pending.pk].version == 1
    assert OutboxEvent.objects.filter(topic="record.frozen", payload__record=open_one.pk).exists()
    audit = AuditEvent.objects.get(action="record.frozen")
    assert audit.object_id == str(open_one.pk) and audit.diff == {"status": ["active", "frozen"]}


def test_update_related_lifts_a_freeze(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    owner = customer(rep)
    frozen = contract(rep, customer=owner.pk)
    active = contract(rep, customer=owner.pk)
    Record.objects.filter(pk=frozen.pk).update(status=RecordStatus.FROZEN)
    spec = {"type": "update_related", "form": "contract", "via": "customer", "status": "active"}

    outcomes = run_action(admin_actor, forms["customer"], spec, [owner])

    assert outcomes[0].result["status_changed"] == [frozen.pk]
    assert Record.objects.get(pk=frozen.pk).status == RecordStatus.ACTIVE
    assert Record.objects.get(pk=active.pk).version == 1


def test_update_related_through_a_relation_of_the_record(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    main = contract(rep, amount=1)
    contract(rep, amount=1)
    source = customer(rep, main_contract=main.pk, credit=7)
    spec = {
        "type": "update_related",
        "form": "contract",
        "through": "main_contract",
        "values": {"amount": "credit * 10.0"},
    }

    outcomes = run_action(admin_actor, forms["customer"], spec, [source])

    assert outcomes[0].result["updated"] == [main.pk]
    amounts = dict(Record.objects.filter(form=forms["contract"]).values_list("pk", "data__amount"))
    assert amounts == {main.pk: 70, main.pk + 1: 1}


def test_update_related_via_a_multiple_relation(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    one, two, three = customer(rep), customer(rep), customer(rep)
    shared = contract(rep, partners=[one.pk, two.pk])
    spec = {"type": "update_related", "form": "contract", "via": "partners", "status": "frozen"}

    outcomes = run_action(admin_actor, forms["customer"], spec, [one, two, three])

    assert [o.result["related"] for o in outcomes] == [1, 1, 0]
    # the first record froze it; for the second it was frozen already
    assert [o.result["status_changed"] for o in outcomes] == [[shared.pk], [], []]
    assert Record.objects.get(pk=shared.pk).status == RecordStatus.FROZEN


def test_update_related_batch_selects_in_one_query_and_stays_in_the_workspace(
    forms, people, workspace, other_workspace, admin_actor, django_assert_num_queries
):
    outsider = make_user("owner2", other_workspace, is_admin=True)
    foreign_form = build_form(make_actor(outsider, other_workspace), CONTRACT, key="contract")
    rep = as_(people["rep"], workspace)
    owners = [customer(rep, name=f"c{i}") for i in range(3)]
    mine = [contract(rep, customer=c.pk) for c in owners]
    # a contract of another workspace that holds the same id in its relation field
    foreign = Record.objects.create(
        workspace=other_workspace, form=foreign_form, form_version=foreign_form.published,
        data={"title": "X", "customer": owners[0].pk},
    )  # fmt: skip
    spec = {"type": "update_related", "form": "contract", "via": "customer", "status": "frozen"}
    action, ctx, targets = context(admin_actor, forms["customer"], spec, owners)

    with django_assert_num_queries(2):  # the related form, then every related record
        selected = update_related._select(ctx, targets)
    outcomes = action.run(ctx, targets)

    assert selected == {c.pk: [(k.pk, "active")] for c, k in zip(owners, mine, strict=True)}
    assert [o.result["status_changed"] for o in outcomes] == [[k.pk] for k in mine]
    assert Record.objects.get(pk=foreign.pk).status == RecordStatus.ACTIVE


def test_update_related_over_the_cap_fails_for_good(
    forms, people, workspace, admin_actor, monkeypatch
):
    monkeypatch.setattr(update_related, "MAX_RELATED", 2)
    rep = as_(people["rep"], workspace)
    source = customer(rep)
    for _ in range(3):
        contract(rep, customer=source.pk)
    spec = {"type": "update_related", "form": "contract", "via": "customer", "status": "frozen"}

    outcomes = run_action(admin_actor, forms["customer"], spec, [source])

    assert not outcomes[0].ok and not outcomes[0].retry and "at most 2" in outcomes[0].error
    assert not Record.objects.filter(status=RecordStatus.FROZEN).exists()


def test_update_related_values_refused_roll_the_record_back(forms, people, workspace, admin_actor):
    rep = as_(people["rep"], workspace)
    source = customer(rep)
    fine = contract(rep, customer=source.pk, delivered=False)
    untitled = Record.objects.create(  # written before "title" became required
        workspace=workspace, form=forms["contract"], form_version=forms["contract"].published,
        data={"customer": source.pk, "delivered": False},
    )  # fmt: skip

    outcomes = run_action(admin_actor, forms["customer"], FREEZE, [source])

    assert not outcomes[0].ok and not outcomes[0].retry and "REQUIRED" in outcomes[0].error
    for pk in (fine.pk, untitled.pk):  # the first contract's update is rolled back too
        row = Record.objects.get(pk=pk)
        assert (row.version, row.status, "freeze_reason" in row.data) == (1, "active", False)


# --- every record action ---------------------------------------------------------------


def test_actions_schemas_refuse_unknown_options_and_bad_shapes(forms, people):
    form = forms["customer"]
    assert check(form, {"type": "set_fields", "values": {}}) != []
    assert check(form, {"type": "create_todo", "assignee": [], "title": "T"}) != []
    assert check(form, {**FREEZE, "status": "deleted"}) != []
    for name in ("notify", "create_todo", "set_fields", "create_record", "update_related"):
        assert actions.get(name) is not None
