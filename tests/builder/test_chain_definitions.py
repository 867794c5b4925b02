"""Approval-chain documents: meta-schema, semantic checks, drafts and versions; R15 and
R16 expressed as chains."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.utils import translation

from dajian.builder.definitions import FormDefinition
from dajian.builder.metadata.approval_chain import Decision, OnReject, SlaAction, StepMode
from dajian.builder.metadata.checks_chain import check_chain_definition
from dajian.builder.metadata.checks_workflow import FormContext
from dajian.builder.metadata.loaders import published_chain
from dajian.builder.models import Metadata, MetadataVersion
from dajian.builder.services.metadata import (
    get_chain,
    list_chains,
    publish_metadata,
    save_approval_chain,
)
from dajian.platform.errors import DajianError
from dajian.platform.models import AuditEvent, Role
from tests.factories import make_actor

FIELDS = [
    {"key": "name", "type": "text", "label": "Name", "required": True},
    {"key": "amount", "type": "number", "label": "Amount"},
    {"key": "sales_rep", "type": "user", "label": "Sales rep"},
    {"key": "source_doc", "type": "text", "label": "Source document number"},
    {"key": "screenshot", "type": "photo", "label": "Screenshot"},
]
ROLES = frozenset({"manager", "product_lead", "finance", "sales_director"})


def contract_chain() -> dict:
    """The contract approval of docs/approvals.md: manager, a countersign of product and
    finance, and the sales director only above 500,000 (R11–R14)."""
    return {
        "schema_version": 1,
        "form": "opportunity",
        "label": {"zh-CN": "合同审批", "en": "Contract approval"},
        "steps": [
            {
                "key": "manager",
                "label": {"zh-CN": "直属上级", "en": "Direct manager"},
                "approvers": [{"type": "manager", "level": 1}],
                "decisions": ["approve", "reject", "delegate"],
                "sla": {"within": {"hours": 8}, "business": True, "then": "escalate"},
            },
            {
                "key": "countersign",
                "label": {"zh-CN": "产品与财务会签", "en": "Product and finance"},
                "mode": "all",
                "approvers": [
                    {"type": "role", "role": "product_lead"},
                    {"type": "role", "role": "finance"},
                ],
                "on_reject": "freeze",
                "cc": [{"type": "owner"}],
                "sla": {"within": {"days": 1}, "business": True, "then": "remind"},
            },
            {
                "key": "director",
                "label": {"zh-CN": "销售总监", "en": "Sales director"},
                "condition": "amount > 500000",
                "approvers": [{"type": "role", "role": "sales_director"}],
                "decisions": ["approve", "reject", "return"],
                "on_reject": "return",
                "return_to": "manager",
                "sla": {"within": {"days": 2}, "business": True, "then": "reject"},
            },
        ],
    }


def incentive_chain() -> dict:
    """R15: the salesperson confirms the incentive or appeals with a screenshot; the
    owner's manager (the supervisor) decides an appeal within 4 hours."""
    return {
        "schema_version": 1,
        "form": "opportunity",
        "label": "Incentive confirmation",
        "steps": [
            {
                "key": "confirm",
                "label": "Salesperson confirms",
                "approvers": [{"type": "field", "field": "sales_rep"}],
                "decisions": ["confirm", "appeal"],
                "appeal_min_evidence": 1,
            },
            {
                "key": "review",
                "label": "Supervisor reviews the appeal",
                "approvers": [{"type": "manager"}],
                "sla": {"within": {"hours": 4}, "then": "escalate"},
            },
        ],
    }


def correction_chain() -> dict:
    """R16: a correction cites a source document and passes two levels (the owner's
    manager, then the sales director) before it counts; editing meanwhile re-routes."""
    return {
        "schema_version": 1,
        "form": "opportunity",
        "label": "Guarded correction",
        "edit_while_pending": "reroute",
        "steps": [
            {"key": "manager", "label": "Manager", "approvers": [{"type": "manager"}]},
            {
                "key": "director",
                "label": "Sales director",
                "approvers": [{"type": "role", "role": "sales_director"}],
                "on_reject": "freeze",
            },
        ],
    }


def context(**overrides) -> FormContext:
    values = {
        "form_key": "opportunity",
        "fields": FormDefinition({"key": "opportunity", "fields": FIELDS}).field_types,
        "role_keys": ROLES,
        "member_usernames": frozenset({"alice"}),
    }
    values.update(overrides)
    return FormContext(**values)


def codes(errors):
    return sorted((e.path, e.code) for e in errors)


def check(doc, **ctx):
    return check_chain_definition(doc, context(**ctx))


def step(**extra) -> dict:
    return {"key": "s", "label": "S", "approvers": [{"type": "owner"}], **extra}


def chain_of(*steps) -> dict:
    return {"schema_version": 1, "form": "opportunity", "steps": list(steps)}


# --- meta-schema --------------------------------------------------------------------------


@pytest.mark.parametrize("doc", [contract_chain(), incentive_chain(), correction_chain()])
def test_the_documented_chains_pass(doc):
    assert check(doc) == []


def test_the_documented_examples_are_these_fixtures():
    text = (Path(__file__).resolve().parents[2] / "docs" / "approvals.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert blocks == [contract_chain(), incentive_chain(), correction_chain()]


def test_form_steps_and_schema_version_are_required():
    assert codes(check({"label": "x"})) == [("", "REQUIRED")] * 3


def test_unknown_keys_are_refused():
    doc = contract_chain()
    doc["steps"][0]["approver"] = "alice"
    doc["steps"][0]["sla"]["after"] = {"days": 1}
    doc["steps"][1]["approvers"][0]["name"] = "x"
    assert codes(check(doc)) == [
        ("steps.0", "UNKNOWN_PROPERTY"),
        ("steps.0.sla", "UNKNOWN_PROPERTY"),
        ("steps.1.approvers.0", "UNKNOWN_PROPERTY"),
    ]


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"mode": "majority"}, "steps.0.mode"),
        ({"mode": "ratio", "ratio": 0}, "steps.0.ratio"),
        ({"mode": "ratio", "ratio": 1.5}, "steps.0.ratio"),
        ({"decisions": ["approve", "veto"]}, "steps.0.decisions.1"),
        ({"decisions": []}, "steps.0.decisions"),
        ({"on_reject": "ignore"}, "steps.0.on_reject"),
        ({"sla": {"within": {"hours": 4}, "then": "panic"}}, "steps.0.sla.then"),
        ({"sla": {"within": {"business": True}}}, "steps.0.sla.within"),
        ({"approvers": []}, "steps.0.approvers"),
    ],
)
def test_malformed_steps_are_refused_with_their_path(extra, path):
    errors = check(chain_of(step(**extra)))
    assert errors and all(e.path == path for e in errors), codes(errors)


def test_a_ratio_of_exactly_one_is_allowed():
    assert check(chain_of(step(mode="ratio", ratio=1))) == []
    assert check(chain_of(step(mode="ratio", ratio=0.6))) == []


def test_step_count_is_limited_by_the_setting(settings):
    limit = settings.DAJIAN["MAX_CHAIN_STEPS"]
    steps = [step(key=f"s{i}") for i in range(limit)]
    assert check(chain_of(*steps)) == []
    assert codes(check(chain_of(*steps, step(key="more")))) == [("steps", "TOO_MANY_ITEMS")]
    settings.DAJIAN = {**settings.DAJIAN, "MAX_CHAIN_STEPS": 2}
    assert codes(check(chain_of(*steps[:3]))) == [("steps", "TOO_MANY_ITEMS")]


def test_approvers_per_step_are_limited_by_the_setting(settings):
    limit = settings.DAJIAN["MAX_STEP_APPROVERS"]
    roles = frozenset(f"r{i}" for i in range(limit + 1))
    approvers = [{"type": "role", "role": f"r{i}"} for i in range(limit)]
    assert check(chain_of(step(approvers=approvers)), role_keys=roles) == []
    approvers.append({"type": "role", "role": f"r{limit}"})
    assert codes(check(chain_of(step(approvers=approvers)), role_keys=roles)) == [
        ("steps.0.approvers", "TOO_MANY_ITEMS")
    ]
    names = [f"u{i}" for i in range(limit + 1)]
    users = frozenset(names)
    spec = {"type": "user", "users": names[:limit]}
    assert check(chain_of(step(approvers=[spec])), member_usernames=users) == []
    spec = {"type": "user", "users": names}
    assert codes(check(chain_of(step(approvers=[spec])), member_usernames=users)) == [
        ("steps.0.approvers.0.users", "TOO_MANY_ITEMS")
    ]


# --- meaning ------------------------------------------------------------------------------


def test_a_condition_referencing_a_missing_field_is_refused():
    doc = contract_chain()
    doc["steps"][2]["condition"] = "contract_amount > 500000"
    errors = check(doc)
    assert codes(errors) == [("steps.2.condition", "UNKNOWN_REFERENCE")]
    assert "contract_amount" in errors[0].message


def test_conditions_must_compile_and_may_use_record_user_now():
    doc = contract_chain()
    doc["steps"][2]["condition"] = "amount >"
    assert codes(check(doc)) == [("steps.2.condition", "EXPRESSION_SYNTAX")]
    doc["steps"][2]["condition"] = "amount > 1 && record.owner != user.id && now > now"
    assert check(doc) == []


def test_step_keys_are_unique():
    doc = contract_chain()
    doc["steps"][1]["key"] = "manager"
    assert codes(check(doc)) == [("steps.0.key", "DUPLICATE_KEY"), ("steps.1.key", "DUPLICATE_KEY")]


def test_return_to_names_an_earlier_step():
    doc = contract_chain()
    doc["steps"][2]["return_to"] = "legal"
    assert codes(check(doc)) == [("steps.2.return_to", "UNKNOWN_STEP")]
    doc["steps"][2]["return_to"] = "director"
    assert codes(check(doc)) == [("steps.2.return_to", "RETURN_NOT_EARLIER")]
    doc["steps"][0]["return_to"] = "countersign"
    doc["steps"][2]["return_to"] = "countersign"
    assert codes(check(doc)) == [("steps.0.return_to", "RETURN_NOT_EARLIER")]


def test_an_appeal_needs_a_later_step_to_review_it():
    doc = incentive_chain()
    doc["steps"].pop()
    assert codes(check(doc)) == [("steps.0.decisions", "APPEAL_ON_LAST_STEP")]


def test_confirm_goes_alone_or_with_appeal():
    assert check(chain_of(step(decisions=["confirm"]))) == []
    errors = check(chain_of(step(decisions=["confirm", "reject"])))
    assert codes(errors) == [("steps.0.decisions", "CONFIRM_MIXED")]
    assert "reject" in errors[0].message


def test_a_step_must_be_able_to_pass():
    errors = check(chain_of(step(decisions=["reject", "delegate"])))
    assert codes(errors) == [("steps.0.decisions", "NO_PASSING_DECISION")]


def test_ratio_goes_with_mode_ratio_only():
    assert codes(check(chain_of(step(ratio=0.5)))) == [("steps.0.ratio", "RATIO_MISMATCH")]
    assert codes(check(chain_of(step(mode="ratio")))) == [("steps.0.mode", "RATIO_MISMATCH")]


def test_sla_durations_are_positive_and_bounded():
    from dajian.platform.calendars import MAX_BUSINESS_DAYS

    doc = chain_of(step(sla={"within": {"days": 0, "hours": 0}}))
    assert codes(check(doc)) == [("steps.0.sla.within", "INVALID_DURATION")]
    doc = chain_of(step(sla={"within": {"days": MAX_BUSINESS_DAYS + 1}, "business": True}))
    assert codes(check(doc)) == [("steps.0.sla.within", "DURATION_TOO_LONG")]


def test_approver_and_cc_specs_are_checked():
    doc = contract_chain()
    doc["steps"][0]["approvers"].append({"type": "role", "role": "ghost"})
    doc["steps"][1]["cc"].append({"type": "field", "field": "amount"})
    doc["steps"][2]["approvers"].append({"type": "user", "users": ["alice", "mallory"]})
    assert codes(check(doc)) == [
        ("steps.0.approvers.1.role", "UNKNOWN_ROLE"),
        ("steps.1.cc.1.field", "NOT_A_USER_FIELD"),
        ("steps.2.approvers.1.users.1", "UNKNOWN_USER"),
    ]


def test_org_chart_specs_may_start_from_the_submitter():
    spec = {"type": "manager", "level": 2, "of": "submitter"}
    assert check(chain_of(step(approvers=[spec]))) == []
    spec = {**spec, "of": "approver"}
    assert codes(check(chain_of(step(approvers=[spec])))) == [
        ("steps.0.approvers.0.of", "INVALID_CHOICE")
    ]


def test_messages_follow_the_callers_language():
    doc = contract_chain()
    doc["steps"][2]["return_to"] = "legal"
    with translation.override("zh-hans"):
        assert check(doc)[0].message == "没有步骤 legal。"
    with translation.override("en"):
        assert check(doc)[0].message == "There is no step 'legal'."


def test_the_typed_view_reads_what_the_schema_allows():
    from dajian.builder.metadata.approval_chain import ChainDefinition

    view = ChainDefinition.parse("contract", contract_chain())
    manager, countersign, director = view.steps
    assert manager.sla.then == SlaAction.ESCALATE and manager.sla.within.business
    assert countersign.mode == StepMode.ALL and countersign.on_reject == OnReject.FREEZE
    assert director.condition == "amount > 500000" and director.return_to == "manager"
    confirm = ChainDefinition.parse("incentive", incentive_chain()).steps[0]
    assert confirm.decisions == {Decision.CONFIRM, Decision.APPEAL}


# --- saving and publishing (database) -------------------------------------------------


@pytest.fixture
def opportunity(form_factory):
    return form_factory(FIELDS, key="opportunity", app="b2b")


@pytest.fixture
def designer(user_factory, workspace):
    for key in ROLES:
        Role.objects.get_or_create(workspace=workspace, key=key, defaults={"name": key})
    return make_actor(user_factory(username="alice", roles=["designer"]), workspace)


def test_a_non_designer_cannot_save_or_publish(opportunity, designer, user_factory, workspace):
    rep = make_actor(user_factory(), workspace)
    for call in (
        lambda: save_approval_chain(rep, "b2b", "contract", contract_chain()),
        lambda: publish_metadata(rep, "approval_chain", "b2b", "contract"),
    ):
        with pytest.raises(DajianError) as exc:
            call()
        assert exc.value.errors[0].code == "PERMISSION_DENIED"
    assert not Metadata.objects.exists()


def test_saving_and_publishing_a_chain(opportunity, designer):
    meta = save_approval_chain(designer, "b2b", "contract", contract_chain())
    assert (meta.kind, meta.key, meta.form, meta.published) == (
        "approval_chain",
        "contract",
        opportunity,
        None,
    )
    version = publish_metadata(designer, "approval_chain", "b2b", "contract")
    assert version.number == 1 and version.definition == contract_chain()
    found = published_chain(opportunity.app_id, "contract")
    assert found is not None and found[2].steps[2].condition == "amount > 500000"
    assert [m.key for m in list_chains(designer, "b2b")] == ["contract"]
    assert get_chain(designer, "b2b", "contract").published == version
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"approval_chain.saved", "approval_chain.published"} <= actions


def test_r15_and_r16_chains_are_saved_and_published(opportunity, designer):
    incentive = save_approval_chain(designer, "b2b", "incentive", incentive_chain(), True)
    correction = save_approval_chain(designer, "b2b", "correction", correction_chain(), True)
    assert incentive.published.definition["steps"][0]["decisions"] == ["confirm", "appeal"]
    assert correction.published.definition["edit_while_pending"] == "reroute"


def test_a_chain_with_a_missing_field_saves_nothing(opportunity, designer):
    doc = contract_chain()
    doc["steps"][2]["condition"] = "budget > 500000"
    events = AuditEvent.objects.count()
    with pytest.raises(DajianError) as exc:
        save_approval_chain(designer, "b2b", "contract", doc, publish=True)
    assert codes(exc.value.errors) == [("steps.2.condition", "UNKNOWN_REFERENCE")]
    assert not Metadata.objects.exists() and not MetadataVersion.objects.exists()
    assert AuditEvent.objects.count() == events


def test_the_chain_form_must_exist_published_in_the_app(form_factory, opportunity, designer):
    with pytest.raises(DajianError) as exc:
        save_approval_chain(designer, "b2b", "contract", {**contract_chain(), "form": "quote"})
    assert codes(exc.value.errors) == [("form", "UNKNOWN_FORM")]
    form_factory(FIELDS, key="quote", app="b2b", publish=False)
    with pytest.raises(DajianError) as exc:
        save_approval_chain(designer, "b2b", "contract", {**contract_chain(), "form": "quote"})
    assert codes(exc.value.errors) == [("form", "FORM_NOT_PUBLISHED")]


def test_a_published_chain_stays_on_its_form(form_factory, opportunity, designer):
    form_factory(FIELDS, key="quote", app="b2b")
    save_approval_chain(designer, "b2b", "contract", contract_chain())
    moved = save_approval_chain(designer, "b2b", "contract", {**contract_chain(), "form": "quote"})
    assert moved.form.key == "quote"  # a draft may still move
    publish_metadata(designer, "approval_chain", "b2b", "contract")
    with pytest.raises(DajianError) as exc:
        save_approval_chain(designer, "b2b", "contract", contract_chain())
    assert codes(exc.value.errors) == [("form", "FORM_CHANGED")]


def test_chain_keys_are_checked(opportunity, designer):
    with pytest.raises(DajianError) as exc:
        save_approval_chain(designer, "b2b", "Contract Approval", contract_chain())
    assert codes(exc.value.errors) == [("key", "INVALID_FORMAT")]


def test_published_versions_are_immutable(opportunity, designer):
    save_approval_chain(designer, "b2b", "contract", contract_chain(), publish=True)
    changed = contract_chain()
    changed["steps"][2]["condition"] = "amount > 1000000"
    save_approval_chain(designer, "b2b", "contract", changed)
    meta = get_chain(designer, "b2b", "contract")
    assert meta.published.definition["steps"][2]["condition"] == "amount > 500000"
    v2 = publish_metadata(designer, "approval_chain", "b2b", "contract")
    assert v2.number == 2
    v1 = MetadataVersion.objects.get(metadata=meta, number=1)
    assert v1.definition["steps"][2]["condition"] == "amount > 500000"
