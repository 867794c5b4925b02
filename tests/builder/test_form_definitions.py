"""Form definitions: meta-schema, semantic checks, drafts and immutable versions."""

from __future__ import annotations

import pytest

from dajian.builder.checks import check_form_definition
from dajian.builder.models import Form, FormVersion
from dajian.builder.services.forms import publish_form, save_form_draft
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent
from tests.factories import make_actor

NAME = {"key": "name", "type": "text", "label": "Name", "required": True}


def definition(*fields, **extra):
    return {"key": "customer", "name": "Customer", "fields": list(fields) or [NAME], **extra}


def codes(errors):
    return sorted((e.path, e.code) for e in errors)


def test_a_minimal_definition_passes():
    assert check_form_definition(definition()) == []


def test_not_an_object_is_refused():
    assert codes(check_form_definition(["x"])) == [("", "INVALID_DEFINITION")]


def test_shape_errors_are_listed_by_path():
    errors = check_form_definition({"key": "Bad Key", "fields": [{"key": "x", "type": "text"}]})
    assert ("key", "INVALID_DEFINITION") in codes(errors)
    assert ("", "REQUIRED") in codes(errors)  # name missing
    assert ("fields.0", "REQUIRED") in codes(errors)  # label missing


def test_duplicate_field_keys_are_refused():
    errors = check_form_definition(definition(NAME, {**NAME, "label": "Again"}))
    assert codes(errors) == [("fields.0.key", "DUPLICATE_KEY"), ("fields.1.key", "DUPLICATE_KEY")]


@pytest.mark.parametrize("key", ["record", "user", "now", "in", "true", "created_at", "id"])
def test_reserved_names_are_refused(key):
    errors = check_form_definition(definition({"key": key, "type": "text", "label": "x"}))
    assert codes(errors) == [("fields.0.key", "RESERVED_NAME")]


def test_unknown_field_type_is_refused():
    errors = check_form_definition(definition({"key": "x", "type": "hologram", "label": "x"}))
    assert codes(errors) == [("fields.0.type", "UNKNOWN_FIELD_TYPE")]


def test_unknown_type_option_is_refused():
    errors = check_form_definition(definition({**NAME, "max_lenght": 5}))
    assert codes(errors) == [("fields.0", "UNKNOWN_OPTION")]


def test_invalid_cel_is_refused_with_position():
    rule = {"expression": "size(name) >", "message": "too short"}
    errors = check_form_definition(definition({**NAME, "rules": [rule]}))
    assert codes(errors) == [("fields.0.rules.0.expression", "EXPRESSION_SYNTAX")]
    assert "1:" in errors[0].message  # line:column of the problem


def test_rule_referencing_a_missing_field_is_refused():
    rules = [{"key": "r", "expression": "amount > 0.0", "message": "x"}]
    errors = check_form_definition(definition(rules=rules))
    assert codes(errors) == [("rules.0.expression", "UNKNOWN_REFERENCE")]
    assert "amount" in errors[0].message


def test_condition_referencing_a_missing_field_is_refused():
    errors = check_form_definition(definition({**NAME, "visible_if": "level == 'A'"}))
    assert codes(errors) == [("fields.0.visible_if", "UNKNOWN_REFERENCE")]


def test_reserved_variables_may_be_used():
    rule = {"key": "r", "expression": "user.id > 0 && now > record.created_at", "message": "x"}
    assert check_form_definition(definition(rules=[rule])) == []


def test_references_in_lists_are_checked():
    errors = check_form_definition(
        definition(
            title_fields=["nope"],
            duplicates=[{"key": "d", "fields": ["name", "city"]}],
            layout=[{"fields": ["ghost"]}],
            permissions=[{"role": "rep", "fields": {"cost": "hidden"}}],
        )
    )
    assert codes(errors) == [
        ("duplicates.0.fields.1", "UNKNOWN_REFERENCE"),
        ("layout.0.fields.0", "UNKNOWN_REFERENCE"),
        ("permissions.0.fields.0", "UNKNOWN_REFERENCE"),
        ("title_fields.0", "UNKNOWN_REFERENCE"),
    ]


def test_unique_needs_a_capable_type():
    field = {"key": "ok", "type": "boolean", "label": "x", "unique": True}
    assert codes(check_form_definition(definition(NAME, field))) == [
        ("fields.1.unique", "NOT_UNIQUE_CAPABLE")
    ]


def test_field_count_limit(settings):
    fields = [{"key": f"f{i}", "type": "text", "label": "x"} for i in range(500)]
    assert check_form_definition(definition(*fields)) == []
    fields.append({"key": "f500", "type": "text", "label": "x"})
    assert codes(check_form_definition(definition(*fields))) == [("fields", "INVALID_DEFINITION")]


def test_expression_length_limit():
    long_ok = "name == '" + "a" * (4096 - 10) + "'"
    assert len(long_ok) == 4096
    assert check_form_definition(definition({**NAME, "visible_if": long_ok})) == []
    too_long = long_ok + " "
    errors = check_form_definition(definition({**NAME, "visible_if": too_long}))
    assert errors and errors[0].path == "fields.0.visible_if"


def test_designers_only(workspace, user_factory, admin_actor):
    from dajian.builder.services.forms import create_app

    create_app(admin_actor, "sales", "Sales")
    rep = make_actor(user_factory(roles=["rep"]), workspace)
    with pytest.raises(DajianError) as refused:
        save_form_draft(rep, "sales", "customer", definition())
    assert refused.value.errors[0].code == "PERMISSION_DENIED"
    designer = make_actor(user_factory(roles=["designer"]), workspace)
    assert save_form_draft(designer, "sales", "customer", definition()).pk


def test_invalid_draft_saves_nothing(admin_actor, form_factory):
    form = form_factory([NAME])
    before = Form.objects.get(pk=form.pk).draft
    with pytest.raises(DajianError):
        save_form_draft(admin_actor, "sales", "customer", definition({**NAME, "type": "nope"}))
    assert Form.objects.get(pk=form.pk).draft == before


def test_key_must_match(admin_actor, form_factory):
    form_factory([NAME])
    with pytest.raises(DajianError) as refused:
        save_form_draft(admin_actor, "sales", "other", definition())
    assert refused.value.errors[0].code == "KEY_MISMATCH"


def test_publish_freezes_an_immutable_version(admin_actor, form_factory):
    form = form_factory([NAME])
    v1 = form.published
    assert v1.number == 1 and len(v1.content_hash) == 64
    # an unchanged draft does not create a new version
    assert publish_form(admin_actor, "sales", "customer").pk == v1.pk
    city = {"key": "city", "type": "text", "label": "City"}
    save_form_draft(admin_actor, "sales", "customer", definition(NAME, city))
    form.refresh_from_db()
    assert form.published_id == v1.pk  # the draft does not change what is live
    v2 = publish_form(admin_actor, "sales", "customer")
    assert v2.number == 2 and v2.content_hash != v1.content_hash
    assert FormVersion.objects.get(pk=v1.pk).definition["fields"] == [NAME]
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count("form.published") == 2


def test_publish_without_draft_is_refused(admin_actor):
    from dajian.builder.services.forms import create_app

    create_app(admin_actor, "sales", "Sales")
    with pytest.raises(DajianError) as refused:
        publish_form(admin_actor, "sales", "missing")
    assert refused.value.errors[0].code == "NOT_FOUND"


VISITS_30D = {
    "key": "visits_30d",
    "type": "rollup",
    "label": "Visits",
    "source": {"form": "visit", "field": "customer"},
    "function": "count",
}


def test_rollup_source_must_be_a_published_form_of_the_app(admin_actor, form_factory):
    with pytest.raises(DajianError) as refused:
        form_factory([NAME, VISITS_30D])
    assert [(e.path, e.code) for e in refused.value.errors] == [
        ("fields.1.source.form", "ROLLUP_INVALID_SOURCE")
    ]


def test_rollup_source_must_point_back_at_the_form(admin_actor, form_factory):
    form_factory(
        [NAME, {"key": "customer", "type": "relation", "target": "supplier", "label": "C"}],
        key="visit",
    )
    with pytest.raises(DajianError) as refused:
        form_factory([NAME, VISITS_30D])
    assert [(e.path, e.code) for e in refused.value.errors] == [
        ("fields.1.source.field", "ROLLUP_INVALID_SOURCE")
    ]
    form_factory(
        [NAME, {"key": "customer", "type": "relation", "target": "customer", "label": "C"}],
        key="visit",
    )
    assert form_factory([NAME, VISITS_30D]).published.number == 1
