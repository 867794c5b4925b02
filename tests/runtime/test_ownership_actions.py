"""The automation actions ``change_owner`` and ``release_to_pool``: what they do to
records (through the same services as the API) and their save-time checks."""

from __future__ import annotations

import pytest

from dajian.builder.jsonschema import compile_schema, iter_errors
from dajian.platform.models import AuditEvent
from dajian.runtime.automations import actions
from dajian.runtime.models import OutboxEvent, Record
from dajian.runtime.selectors import list_records
from dajian.runtime.services.records import create_record
from tests.automation_helpers import check_context, run_action
from tests.runtime.test_pool import OwnershipOrg, ownership_org


@pytest.fixture
def org(workspace, admin, form_factory) -> OwnershipOrg:
    return ownership_org(workspace, admin, form_factory)


@pytest.fixture
def form(org):
    from dajian.builder.models import Form

    return Form.objects.get(workspace=org.workspace, key="customer")


def owner_of(record) -> int | None:
    return Record.objects.get(pk=record.pk).owner_id


# --- change_owner ------------------------------------------------------------------------


def test_change_owner_gives_each_record_to_its_owners_manager(org, form):
    east = org.owned_record(org.rep1, "East deal")
    west = org.owned_record(org.rep3, "West deal")

    outcomes = run_action(
        org.actor(org.admin),
        form,
        {"type": "change_owner", "to": {"type": "manager"}},
        [east, west],
    )

    assert [o.ok for o in outcomes] == [True, True]
    assert (owner_of(east), owner_of(west)) == (org.manager.pk, org.other_mgr.pk)
    assert dict(outcomes[0].result) == {
        "owner": org.manager.pk,
        "previous_owner": org.rep1.pk,
        "changed": True,
    }
    event = OutboxEvent.objects.get(topic="record.owner_changed", payload__record=east.pk)
    assert (event.payload["from"], event.payload["to"]) == (org.rep1.pk, org.manager.pk)
    assert event.payload["depth"] == 1  # written one automation level down
    audit = AuditEvent.objects.get(action="record.reassigned", object_id=str(east.pk))
    assert audit.actor_label == "system"
    assert Record.objects.get(pk=east.pk).version == 2


def test_change_owner_to_named_users_and_to_a_user_field(org, form):
    named = org.owned_record(org.rep1, "Named")
    by_field = create_record(
        org.actor(org.rep1), "sales", "customer", {"name": "By field", "sales": org.rep2.pk}
    ).record
    admin = org.actor(org.admin)

    run_action(
        admin, form, {"type": "change_owner", "to": {"type": "user", "users": ["rep3"]}}, [named]
    )
    run_action(
        admin, form, {"type": "change_owner", "to": {"type": "field", "field": "sales"}}, [by_field]
    )

    assert (owner_of(named), owner_of(by_field)) == (org.rep3.pk, org.rep2.pk)


def test_change_owner_fails_without_retry_when_the_spec_names_nobody(org, form):
    pooled = org.pool_record("Nobody's")  # no owner, so no owner's manager

    [outcome] = run_action(
        org.actor(org.admin), form, {"type": "change_owner", "to": {"type": "manager"}}, [pooled]
    )

    assert not outcome.ok and not outcome.retry
    assert owner_of(pooled) is None
    assert not OutboxEvent.objects.filter(topic="record.owner_changed").exists()


def test_change_owner_to_the_current_owner_changes_nothing(org, form):
    record = org.owned_record(org.rep1, "Mine")
    [outcome] = run_action(
        org.actor(org.admin), form, {"type": "change_owner", "to": {"type": "owner"}}, [record]
    )
    assert outcome.ok and outcome.result["changed"] is False
    assert Record.objects.get(pk=record.pk).version == 1


# --- release_to_pool ---------------------------------------------------------------------


def test_release_to_pool_empties_the_owner(org, form):
    record = org.owned_record(org.rep1, "Silent for 45 days")

    [outcome] = run_action(org.actor(org.admin), form, {"type": "release_to_pool"}, [record])

    assert outcome.ok and dict(outcome.result) == {"previous_owner": org.rep1.pk, "changed": True}
    assert owner_of(record) is None
    event = OutboxEvent.objects.get(topic="record.owner_changed")
    assert (event.payload["from"], event.payload["to"], event.payload["depth"]) == (
        org.rep1.pk,
        None,
        1,
    )
    assert AuditEvent.objects.get(action="record.released").actor_label == "system"
    seen_by_rep2 = list_records(org.actor(org.rep2), "sales", "customer", first=100).items
    assert [v.record.pk for v in seen_by_rep2] == [record.pk]  # in the pool now


def test_release_to_pool_leaves_a_pool_record_alone(org, form):
    pooled = org.pool_record("Already there")
    [outcome] = run_action(org.actor(org.admin), form, {"type": "release_to_pool"}, [pooled])
    assert outcome.ok and outcome.result == {"changed": False}
    assert Record.objects.get(pk=pooled.pk).version == 1
    assert not AuditEvent.objects.filter(action="record.released").exists()


# --- save-time checks --------------------------------------------------------------------


def shape(spec: dict) -> list[tuple[str, str]]:
    action = actions.get(spec["type"])
    validator = compile_schema(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **action.schema}
    )
    return [(where, code) for where, code, _ in iter_errors(validator, spec)]


def test_the_schemas_take_exactly_their_options():
    assert shape({"type": "change_owner", "to": {"type": "manager"}}) == []
    assert shape({"type": "release_to_pool"}) == []
    assert shape({"type": "change_owner"})
    assert shape({"type": "change_owner", "to": {"type": "owner"}, "extra": 1})
    assert shape({"type": "release_to_pool", "to": {"type": "owner"}})


def test_change_owner_checks_the_recipient_spec(org, form):
    action = actions.get("change_owner")
    ctx = check_context(form, member_usernames=frozenset({"rep1"}))

    def codes(to: dict) -> list[tuple[str, str | None]]:
        errors = action.check({"type": "change_owner", "to": to}, "actions.0", ctx)
        return [(e.code, e.path) for e in errors]

    assert codes({"type": "manager", "level": 2}) == []
    assert codes({"type": "field", "field": "sales"}) == []
    assert codes({"type": "role", "role": "rep"}) == []
    assert codes({"type": "role", "role": "astronaut"}) == [("UNKNOWN_ROLE", "actions.0.to.role")]
    assert codes({"type": "user", "users": ["rep1", "ghost"]}) == [
        ("UNKNOWN_USER", "actions.0.to.users.1")
    ]
    assert codes({"type": "field", "field": "name"}) == [("NOT_A_USER_FIELD", "actions.0.to.field")]
    assert codes({"type": "submitter"}) == [("NO_SUBMITTER", "actions.0.to")]
    assert codes({"type": "manager", "of": "submitter"}) == [("NO_SUBMITTER", "actions.0.to")]
