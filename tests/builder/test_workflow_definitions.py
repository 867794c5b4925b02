"""Workflow documents: meta-schema, semantic checks, drafts and immutable versions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dajian.builder.definitions import FormDefinition
from dajian.builder.metadata.checks_workflow import ChainRef, FormContext, check_workflow_definition
from dajian.builder.metadata.loaders import published_workflow
from dajian.builder.models import Metadata, MetadataVersion
from dajian.builder.services import publish_hooks
from dajian.builder.services.metadata import (
    get_workflow,
    list_versions,
    publish_metadata,
    save_approval_chain,
    save_workflow,
)
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent, Role
from tests.factories import make_actor

FIELDS = [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "pain_point", "type": "long_text", "label": "Pain point"},
    {"key": "competitor", "type": "text", "label": "Competitor response"},
    {"key": "next_follow_up", "type": "datetime", "label": "Next follow-up"},
    {"key": "proposal_file", "type": "attachment", "label": "Proposal", "max_count": 5},
    {"key": "site_photo", "type": "photo", "label": "Site photo"},
    {"key": "voice_note", "type": "audio", "label": "Voice note"},
    {"key": "sales_rep", "type": "user", "label": "Sales rep"},
]


def funnel() -> dict:
    """The four-stage B2B funnel of docs/workflows.md (R7, R8)."""
    return {
        "schema_version": 1,
        "initial": "requirement",
        "stages": [
            {
                "key": "requirement",
                "label": {"zh-CN": "需求确认", "en": "Requirement confirmation"},
                "color": "#1677ff",
                "requirements": {"fields": ["pain_point", "competitor", "next_follow_up"]},
                "time_limit": {
                    "warning": {"days": 7},
                    "overdue": {"days": 14},
                    "notify": [{"type": "owner"}],
                    "escalate_to": [{"type": "manager", "level": 1}],
                },
            },
            {
                "key": "proposal",
                "label": {"zh-CN": "方案报价", "en": "Proposal"},
                "color": "#13c2c2",
                "requirements": {
                    "evidence": [
                        {
                            "field": "proposal_file",
                            "min_count": 1,
                            "min_age": {"hours": 72},
                            "message": {"en": "Send the proposal 3 days ahead."},
                        }
                    ]
                },
                "time_limit": {"warning": {"days": 7}, "overdue": {"days": 14}},
            },
            {
                "key": "negotiation",
                "label": {"zh-CN": "价格谈判", "en": "Price negotiation"},
                "requirements": {
                    "checks": [
                        {
                            "expression": "amount > 0",
                            "message": {"en": "Enter the negotiated amount."},
                            "field": "amount",
                        }
                    ]
                },
            },
            {"key": "contract", "label": {"zh-CN": "合同审批", "en": "Contract approval"}},
            {"key": "won", "label": "Won", "terminal": True, "outcome": "won"},
            {
                "key": "lost",
                "label": "Lost",
                "terminal": True,
                "outcome": "lost",
                "reasons": [{"key": "price", "label": "Price"}, {"key": "other", "label": "Other"}],
            },
        ],
        "transitions": [
            {"from": "requirement", "to": "proposal"},
            {"from": "proposal", "to": "negotiation"},
            {"from": "negotiation", "to": "contract", "guard": "amount > 0"},
            {"from": "contract", "to": "won", "roles": ["manager"], "approval": "contract_ok"},
            {"from": "*", "to": "lost"},
        ],
    }


def context(**overrides) -> FormContext:
    values = {
        "form_key": "opportunity",
        "fields": FormDefinition({"key": "opportunity", "fields": FIELDS}).field_types,
        "role_keys": frozenset({"manager", "rep"}),
        "chains": {"contract_ok": ChainRef("opportunity", True)},
    }
    values.update(overrides)
    return FormContext(**values)


def codes(errors):
    return sorted((e.path, e.code) for e in errors)


def check(doc, **ctx):
    return check_workflow_definition(doc, context(**ctx))


# --- meta-schema --------------------------------------------------------------------------


def test_the_funnel_passes():
    assert check(funnel()) == []


def test_the_documented_example_is_this_fixture():
    text = (Path(__file__).resolve().parents[2] / "docs" / "workflows.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    assert json.loads(blocks[0]) == funnel()


def test_not_an_object_is_refused():
    assert codes(check(["x"])) == [("", "INVALID_DEFINITION")]


def test_schema_version_is_required():
    doc = funnel()
    del doc["schema_version"]
    assert codes(check(doc)) == [("", "REQUIRED")]


def test_unknown_keys_are_refused_at_every_level():
    doc = funnel()
    doc["stages"][0]["colour"] = "#ffffff"
    doc["stages"][1]["requirements"]["evidence"][0]["age"] = {"hours": 1}
    doc["transitions"][0]["when"] = "true"
    assert codes(check(doc)) == [
        ("stages.0", "UNKNOWN_PROPERTY"),
        ("stages.1.requirements.evidence.0", "UNKNOWN_PROPERTY"),
        ("transitions.0", "UNKNOWN_PROPERTY"),
    ]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("stages", 0, "key"), "Bad Key"),
        (("stages", 0, "color"), "blue"),
        (("stages", 4, "outcome"), "draw"),
        (("stages", 0, "label"), {"english": "x"}),
        (("stages", 0, "time_limit", "warning"), {"weeks": 1}),
        (("transitions", 0, "from"), "?"),
    ],
)
def test_malformed_values_are_refused_with_their_path(path, value):
    doc = funnel()
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    errors = check(doc)
    assert errors
    assert all(e.path.startswith(".".join(str(p) for p in path)) for e in errors), codes(errors)


def test_stage_count_is_limited_by_the_setting(settings):
    limit = settings.DAJIAN["MAX_WORKFLOW_STAGES"]
    stages = [{"key": f"s{i}", "label": f"S{i}"} for i in range(limit)]
    assert check({"schema_version": 1, "stages": stages}) == []
    stages.append({"key": "one_more", "label": "x"})
    assert codes(check({"schema_version": 1, "stages": stages})) == [("stages", "TOO_MANY_ITEMS")]
    settings.DAJIAN = {**settings.DAJIAN, "MAX_WORKFLOW_STAGES": 3}
    assert codes(check({"schema_version": 1, "stages": stages[:4]})) == [
        ("stages", "TOO_MANY_ITEMS")
    ]


# --- stages ---------------------------------------------------------------------------


def test_duplicate_stage_keys_are_refused():
    doc = funnel()
    doc["stages"][3]["key"] = "proposal"
    assert ("stages.1.key", "DUPLICATE_KEY") in codes(check(doc))
    assert ("stages.3.key", "DUPLICATE_KEY") in codes(check(doc))


def test_initial_must_exist_and_not_be_terminal():
    doc = funnel()
    doc["initial"] = "nowhere"
    assert codes(check(doc)) == [("initial", "UNKNOWN_STAGE")]
    doc["initial"] = "won"
    assert codes(check(doc)) == [("initial", "INITIAL_TERMINAL")]


def test_without_initial_the_first_stage_must_not_be_terminal():
    doc = {"schema_version": 1, "stages": [{"key": "done", "label": "Done", "terminal": True}]}
    assert codes(check(doc)) == [("stages.0.terminal", "INITIAL_TERMINAL")]


def test_outcome_and_reasons_belong_to_terminal_stages():
    doc = funnel()
    doc["stages"][0]["outcome"] = "won"
    doc["stages"][0]["reasons"] = [{"key": "x", "label": "X"}]
    assert codes(check(doc)) == [
        ("stages.0.outcome", "TERMINAL_ONLY"),
        ("stages.0.reasons", "TERMINAL_ONLY"),
    ]


def test_terminal_stages_have_no_requirements_or_time_limit():
    doc = funnel()
    doc["stages"][4]["requirements"] = {"fields": ["name"]}
    doc["stages"][4]["time_limit"] = {"warning": {"days": 1}}
    assert codes(check(doc)) == [
        ("stages.4.requirements", "NOT_ON_TERMINAL"),
        ("stages.4.time_limit", "NOT_ON_TERMINAL"),
    ]


def test_duplicate_reason_keys_are_refused():
    doc = funnel()
    doc["stages"][5]["reasons"][1]["key"] = "price"
    assert codes(check(doc)) == [
        ("stages.5.reasons.0.key", "DUPLICATE_KEY"),
        ("stages.5.reasons.1.key", "DUPLICATE_KEY"),
    ]


def test_required_fields_must_exist_in_the_published_form():
    doc = funnel()
    doc["stages"][2]["requirements"]["fields"] = ["amount", "budget"]
    assert codes(check(doc)) == [("stages.2.requirements.fields.1", "UNKNOWN_FIELD")]


def test_evidence_needs_an_existing_file_field():
    doc = funnel()
    evidence = doc["stages"][1]["requirements"]["evidence"]
    evidence.append({"field": "competitor"})
    evidence.append({"field": "brochure"})
    assert codes(check(doc)) == [
        ("stages.1.requirements.evidence.1.field", "NOT_EVIDENCE_FIELD"),
        ("stages.1.requirements.evidence.2.field", "UNKNOWN_FIELD"),
    ]


def test_photo_audio_and_signature_fields_count_as_evidence():
    doc = funnel()
    doc["stages"][1]["requirements"]["evidence"] = [
        {"field": "site_photo", "images_only": True},
        {"field": "voice_note"},
    ]
    assert check(doc) == []


def test_images_only_needs_a_field_that_accepts_images():
    doc = funnel()
    doc["stages"][1]["requirements"]["evidence"] = [{"field": "voice_note", "images_only": True}]
    assert codes(check(doc)) == [
        ("stages.1.requirements.evidence.0.images_only", "NOT_IMAGE_FIELD")
    ]


def test_evidence_count_beyond_the_field_capacity_is_refused():
    doc = funnel()
    doc["stages"][1]["requirements"]["evidence"][0]["min_count"] = 6  # max_count is 5
    assert codes(check(doc)) == [
        ("stages.1.requirements.evidence.0.min_count", "EVIDENCE_IMPOSSIBLE")
    ]


def test_evidence_ages_must_be_ordered_and_positive():
    doc = funnel()
    evidence = doc["stages"][1]["requirements"]["evidence"][0]
    evidence["max_age"] = {"hours": 24}
    assert codes(check(doc)) == [("stages.1.requirements.evidence.0.min_age", "INVALID_DURATION")]
    evidence["max_age"] = {"days": 0}
    assert ("stages.1.requirements.evidence.0.max_age", "INVALID_DURATION") in codes(check(doc))


def test_check_expressions_compile_with_the_form_variables():
    doc = funnel()
    checks = doc["stages"][2]["requirements"]["checks"]
    checks.append({"expression": "amount >", "message": "x"})
    checks.append({"expression": "budget > 0 && record.stage == 'x'", "message": "x"})
    checks.append({"expression": "now > next_follow_up && user.id > 0", "message": "x"})
    checks.append({"expression": "true", "message": "x", "field": "nope"})
    assert codes(check(doc)) == [
        ("stages.2.requirements.checks.1.expression", "EXPRESSION_SYNTAX"),
        ("stages.2.requirements.checks.2.expression", "UNKNOWN_REFERENCE"),
        ("stages.2.requirements.checks.4.field", "UNKNOWN_FIELD"),
    ]


def test_warning_comes_before_overdue():
    doc = funnel()
    doc["stages"][0]["time_limit"]["warning"] = {"days": 14}
    assert codes(check(doc)) == [("stages.0.time_limit.warning", "INVALID_DURATION")]


def test_business_durations_are_bounded_by_the_calendar():
    from dajian.platform.calendars import MAX_BUSINESS_DAYS

    doc = funnel()
    limit = doc["stages"][0]["time_limit"]
    limit["business"] = True
    limit["overdue"] = {"days": MAX_BUSINESS_DAYS}
    assert check(doc) == []
    limit["overdue"] = {"days": MAX_BUSINESS_DAYS + 1}
    assert codes(check(doc)) == [("stages.0.time_limit.overdue", "DURATION_TOO_LONG")]
    limit["business"] = False  # on the wall clock the calendar bound does not apply
    assert check(doc) == []


# --- transitions ----------------------------------------------------------------------


def test_transitions_refer_to_existing_stages():
    doc = funnel()
    doc["transitions"].append({"from": "limbo", "to": "heaven"})
    assert codes(check(doc)) == [
        ("transitions.5.from", "UNKNOWN_STAGE"),
        ("transitions.5.to", "UNKNOWN_STAGE"),
    ]


def test_no_transition_leaves_a_terminal_stage():
    doc = funnel()
    doc["transitions"].append({"from": "lost", "to": "requirement"})
    assert codes(check(doc)) == [("transitions.5.from", "TRANSITION_FROM_TERMINAL")]


def test_a_transition_goes_somewhere_else():
    doc = funnel()
    doc["transitions"].append({"from": "proposal", "to": "proposal"})
    assert codes(check(doc)) == [("transitions.5.to", "SELF_TRANSITION")]


def test_duplicate_transitions_are_refused_also_through_the_wildcard():
    doc = funnel()
    doc["transitions"].append({"from": "proposal", "to": "negotiation"})
    doc["transitions"].append({"from": "negotiation", "to": "lost"})  # "*" covers it
    assert codes(check(doc)) == [
        ("transitions.5", "DUPLICATE_TRANSITION"),
        ("transitions.6", "DUPLICATE_TRANSITION"),
    ]


def test_transition_roles_must_exist():
    doc = funnel()
    doc["transitions"][0]["roles"] = ["rep", "ghost"]
    assert codes(check(doc)) == [("transitions.0.roles.1", "UNKNOWN_ROLE")]


def test_guards_compile_with_the_form_variables():
    doc = funnel()
    doc["transitions"][0]["guard"] = "discount < 0.2"
    errors = check(doc)
    assert codes(errors) == [("transitions.0.guard", "UNKNOWN_REFERENCE")]
    assert "discount" in errors[0].message


def test_check_requirements_is_an_optional_boolean():
    from dajian.builder.metadata.workflow import WorkflowDefinition

    doc = funnel()
    doc["transitions"][4]["check_requirements"] = False
    assert check(doc) == []
    view = WorkflowDefinition.parse(doc)
    assert [t.check_requirements for t in view.transitions] == [True, True, True, True, False]
    doc["transitions"][0]["check_requirements"] = "no"
    assert codes(check(doc)) == [("transitions.0.check_requirements", "INVALID_TYPE")]


def test_approval_names_a_chain_of_the_same_form():
    doc = funnel()
    assert codes(check(doc, chains={})) == [("transitions.3.approval", "UNKNOWN_CHAIN")]
    other = {"contract_ok": ChainRef("invoice", True)}
    assert codes(check(doc, chains=other)) == [("transitions.3.approval", "CHAIN_FORM_MISMATCH")]
    draft_only = {"contract_ok": ChainRef("opportunity", False)}
    assert check(doc, chains=draft_only) == []
    assert codes(check(doc, chains=draft_only, require_published_chains=True)) == [
        ("transitions.3.approval", "CHAIN_NOT_PUBLISHED")
    ]


def test_recipient_specs_go_through_the_recipients_registry():
    doc = funnel()
    limit = doc["stages"][0]["time_limit"]
    limit["notify"] = [{"type": "role", "role": "ghost"}, {"type": "field", "field": "name"}]
    limit["escalate_to"] = [{"type": "hologram"}]
    paths = [p for p, _ in codes(check(doc))]
    assert paths == [
        "stages.0.time_limit.escalate_to.0.type",
        "stages.0.time_limit.notify.0.role",
        "stages.0.time_limit.notify.1.field",
    ]


def test_stage_recipients_cannot_name_the_submitter():
    doc = funnel()
    limit = doc["stages"][0]["time_limit"]
    limit["notify"] = [{"type": "owner"}, {"type": "submitter"}]
    limit["escalate_to"] = [{"type": "manager", "of": "submitter"}]
    assert codes(check(doc)) == [
        ("stages.0.time_limit.escalate_to.0.of", "NO_SUBMITTER"),
        ("stages.0.time_limit.notify.1.type", "NO_SUBMITTER"),
    ]
    limit["escalate_to"] = [{"type": "department_head", "of": "owner"}]
    limit["notify"] = [{"type": "owner"}]
    assert check(doc) == []


def test_every_problem_is_listed_at_once():
    doc = funnel()
    doc["initial"] = "nowhere"
    doc["stages"][0]["requirements"]["fields"].append("budget")
    doc["transitions"][0]["roles"] = ["ghost"]
    assert len(check(doc)) == 3


# --- saving and publishing (database) -------------------------------------------------


@pytest.fixture
def opportunity(form_factory):
    return form_factory(FIELDS, key="opportunity", app="b2b")


@pytest.fixture
def roles(workspace):
    for key in ("manager", "rep", "product_lead", "finance", "sales_director"):
        Role.objects.get_or_create(workspace=workspace, key=key, defaults={"name": key})


@pytest.fixture
def designer(user_factory, workspace):
    return make_actor(user_factory(roles=["designer"]), workspace)


CHAIN = {
    "schema_version": 1,
    "form": "opportunity",
    "steps": [{"key": "manager", "label": "Manager", "approvers": [{"type": "manager"}]}],
}


def save_funnel(actor, publish=False, chain_published=True):
    save_approval_chain(actor, "b2b", "contract_ok", CHAIN, publish=chain_published)
    return save_workflow(actor, "b2b", "opportunity", funnel(), publish=publish)


def test_a_member_without_the_designer_role_cannot_save(
    opportunity, roles, user_factory, workspace
):
    rep = make_actor(user_factory(roles=["rep"]), workspace)
    with pytest.raises(DajianError) as exc:
        save_workflow(rep, "b2b", "opportunity", funnel())
    assert exc.value.errors[0].code == "PERMISSION_DENIED"
    assert not Metadata.objects.exists()


def test_saving_stores_the_draft_with_its_form(opportunity, roles, designer):
    meta = save_funnel(designer)
    assert meta.key == "opportunity" and meta.form == opportunity and meta.kind == "workflow"
    assert meta.draft == {**funnel(), "form": "opportunity"}
    assert meta.published is None
    assert AuditEvent.objects.filter(action="workflow.saved", object_id=str(meta.pk)).count() == 1


def test_an_invalid_document_saves_nothing(opportunity, roles, designer):
    save_funnel(designer)
    before = Metadata.objects.get(kind="workflow").draft
    bad = funnel()
    bad["initial"] = "nowhere"
    bad["transitions"][0]["roles"] = ["ghost"]
    events = AuditEvent.objects.count()
    with pytest.raises(DajianError) as exc:
        save_workflow(designer, "b2b", "opportunity", bad, publish=True)
    assert codes(exc.value.errors) == [
        ("initial", "UNKNOWN_STAGE"),
        ("transitions.0.roles.0", "UNKNOWN_ROLE"),
    ]
    assert Metadata.objects.get(kind="workflow").draft == before
    assert AuditEvent.objects.count() == events
    assert not MetadataVersion.objects.filter(metadata__kind="workflow").exists()


def test_the_form_must_exist_and_be_published(form_factory, roles, designer):
    with pytest.raises(DajianError) as exc:
        save_workflow(designer, "b2b", "opportunity", funnel())
    assert exc.value.errors[0].code == "NOT_FOUND"  # no app b2b yet
    form_factory(FIELDS, key="opportunity", app="b2b", publish=False)
    with pytest.raises(DajianError) as exc:
        save_workflow(designer, "b2b", "opportunity", funnel())
    assert codes(exc.value.errors) == [("form", "FORM_NOT_PUBLISHED")]
    with pytest.raises(DajianError) as exc:
        save_workflow(designer, "b2b", "quote", funnel())
    assert codes(exc.value.errors) == [("form", "UNKNOWN_FORM")]


def test_a_document_naming_another_form_is_refused(opportunity, roles, designer):
    with pytest.raises(DajianError) as exc:
        save_workflow(designer, "b2b", "opportunity", {**funnel(), "form": "invoice"})
    assert codes(exc.value.errors) == [("form", "KEY_MISMATCH")]


def test_publishing_freezes_numbered_versions(opportunity, roles, designer):
    save_funnel(designer)
    v1 = publish_metadata(designer, "workflow", "b2b", "opportunity")
    assert v1.number == 1 and v1.definition == {**funnel(), "form": "opportunity"}
    again = publish_metadata(designer, "workflow", "b2b", "opportunity")
    assert again.pk == v1.pk  # an unchanged draft is the current version
    changed = funnel()
    changed["stages"][0]["color"] = "#ff0000"
    save_workflow(designer, "b2b", "opportunity", changed)
    v2 = publish_metadata(designer, "workflow", "b2b", "opportunity")
    assert v2.number == 2 and v2.content_hash != v1.content_hash
    v1.refresh_from_db()
    assert v1.definition["stages"][0]["color"] == "#1677ff"  # the old version is untouched
    meta = get_workflow(designer, "b2b", "opportunity")
    assert [v.number for v in list_versions(meta)] == [2, 1]
    assert AuditEvent.objects.filter(action="workflow.published").count() == 2


def test_the_runtime_reads_the_published_version(opportunity, roles, designer):
    save_funnel(designer, publish=True)
    version, view = published_workflow(opportunity)
    assert version.number == 1 and view.initial == "requirement"
    assert [s.key for s in view.stages][:4] == [
        "requirement",
        "proposal",
        "negotiation",
        "contract",
    ]
    assert view.stage_map["proposal"].evidence[0].min_age.hours == 72
    assert view.transition("contract", "won").approval == "contract_ok"


def test_publishing_needs_the_approval_chain_published(opportunity, roles, designer):
    save_funnel(designer, chain_published=False)  # saving accepts a saved chain
    with pytest.raises(DajianError) as exc:
        publish_metadata(designer, "workflow", "b2b", "opportunity")
    assert codes(exc.value.errors) == [("transitions.3.approval", "CHAIN_NOT_PUBLISHED")]
    publish_metadata(designer, "approval_chain", "b2b", "contract_ok")
    assert publish_metadata(designer, "workflow", "b2b", "opportunity").number == 1


def test_publishing_checks_again_against_the_current_form(
    opportunity, roles, designer, admin_actor
):
    from tests.factories import build_form

    save_funnel(designer)
    build_form(admin_actor, [f for f in FIELDS if f["key"] != "competitor"], "opportunity", "b2b")
    with pytest.raises(DajianError) as exc:
        publish_metadata(designer, "workflow", "b2b", "opportunity")
    assert codes(exc.value.errors) == [("stages.0.requirements.fields.1", "UNKNOWN_FIELD")]


def test_nothing_to_publish_and_unknown_documents(opportunity, roles, designer):
    with pytest.raises(DajianError) as exc:
        publish_metadata(designer, "workflow", "b2b", "opportunity")
    assert exc.value.errors[0].code == "NOT_FOUND"
    with pytest.raises(DajianError) as exc:
        publish_metadata(designer, "report", "b2b", "opportunity")
    assert exc.value.errors[0].code == "INVALID_INPUT"


def test_save_and_publish_in_one_call_writes_both_events(opportunity, roles, designer):
    meta = save_funnel(designer, publish=True)
    assert meta.published.number == 1
    actions = list(
        AuditEvent.objects.filter(object_id=str(meta.pk), object_type="Metadata")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["workflow.saved", "workflow.published"]


def test_publish_hooks_run_inside_the_transaction(opportunity, roles, designer):
    seen = []

    def hook(actor, metadata, version):
        seen.append((actor.user, metadata.key, version.number))

    publish_hooks.register_metadata_hook(hook)
    try:
        save_funnel(designer, publish=True)
        publish_metadata(designer, "workflow", "b2b", "opportunity")  # unchanged: no hook
    finally:
        publish_hooks._metadata_hooks.remove(hook)
    assert seen == [(designer.user, "contract_ok", 1), (designer.user, "opportunity", 1)]


def test_a_failing_hook_rolls_the_publish_back(opportunity, roles, designer):
    def hook(actor, metadata, version):
        raise RuntimeError("boom")

    save_funnel(designer)
    publish_hooks.register_metadata_hook(hook)
    try:
        with pytest.raises(RuntimeError):
            publish_metadata(designer, "workflow", "b2b", "opportunity")
    finally:
        publish_hooks._metadata_hooks.remove(hook)
    assert Metadata.objects.get(kind="workflow").published is None
    assert not AuditEvent.objects.filter(action="workflow.published").exists()
