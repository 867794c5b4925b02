"""Builder GraphQL for workflows and approval chains: saveWorkflow, publishWorkflow,
saveApprovalChain, publishApprovalChain, the document queries and form { workflow }."""

from __future__ import annotations

import pytest

from dajian.builder.models import Metadata, MetadataVersion
from dajian.platform.models import AuditEvent, Role
from tests.builder.test_chain_definitions import contract_chain
from tests.builder.test_workflow_definitions import FIELDS, funnel
from tests.factories import build_form, make_user

DOCUMENT = """
  key app form draft draftSavedAt
  published { number definition contentHash schemaVersion publishedAt publishedBy }
  versions { number contentHash }
"""
SAVE_WORKFLOW = f"""
mutation S($input: SaveWorkflowInput!) {{
  saveWorkflow(input: $input) {{ workflow {{ {DOCUMENT} }} errors {{ field path code message }} }}
}}"""
PUBLISH_WORKFLOW = f"""
mutation P($input: PublishWorkflowInput!) {{
  publishWorkflow(input: $input) {{ version workflow {{ {DOCUMENT} }} errors {{ path code }} }}
}}"""
SAVE_CHAIN = f"""
mutation S($input: SaveApprovalChainInput!) {{
  saveApprovalChain(input: $input) {{
    chain {{ label {DOCUMENT} }} errors {{ field path code message }}
  }}
}}"""
PUBLISH_CHAIN = f"""
mutation P($input: PublishApprovalChainInput!) {{
  publishApprovalChain(input: $input) {{ version chain {{ {DOCUMENT} }} errors {{ path code }} }}
}}"""
WORKFLOW = f"""
query W($app: String!, $form: String!) {{ workflow(app: $app, form: $form) {{ {DOCUMENT} }} }}
"""
CHAINS = f"""
query C($app: String!, $key: String!) {{
  approvalChain(app: $app, key: $key) {{ label {DOCUMENT} }}
  approvalChains(app: $app) {{ key label form versions {{ number }} }}
}}"""
FORM_WORKFLOW = """
query F { form(app: "b2b", key: "opportunity") { key workflow {
  version contentHash initial
  stages {
    key label labels color terminal outcome reasons { key label }
    requirements {
      fields
      evidence { field minCount minAge maxAge imagesOnly message }
      checks { expression message field code }
    }
    timeLimit { warning overdue notify escalateTo }
  }
  transitions { from to label roles guard guardMessage approval }
} } }"""
APPS_WORKFLOWS = "query { apps { key forms { key workflow { initial stages { key } } } } }"


@pytest.fixture
def opportunity(admin_actor, workspace):
    for key in ("manager", "rep", "product_lead", "finance", "sales_director"):
        Role.objects.get_or_create(workspace=workspace, key=key, defaults={"name": key})
    return build_form(admin_actor, FIELDS, key="opportunity", app="b2b")


@pytest.fixture
def designer(workspace):
    return make_user("dana", workspace, roles=["designer"])


@pytest.fixture
def rep(workspace):
    return make_user("rep", workspace, roles=["rep"])


def save_workflow(gql, user, definition, publish=False):
    variables = {"app": "b2b", "form": "opportunity", "definition": definition}
    if publish:
        variables["publish"] = True
    return gql(SAVE_WORKFLOW, {"input": variables}, as_user=user)["data"]["saveWorkflow"]


def save_chain(gql, user, definition, key="contract_ok", publish=False):
    variables = {"app": "b2b", "key": key, "definition": definition, "publish": publish}
    return gql(SAVE_CHAIN, {"input": variables}, as_user=user)["data"]["saveApprovalChain"]


def published_funnel(gql, designer):
    chain = {**contract_chain(), "steps": contract_chain()["steps"][:1]}
    assert save_chain(gql, designer, chain, publish=True)["errors"] == []
    saved = save_workflow(gql, designer, funnel(), publish=True)
    assert saved["errors"] == []
    return saved


def test_anonymous_callers_are_refused(gql, opportunity):
    result = gql(WORKFLOW, {"app": "b2b", "form": "opportunity"})
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_saving_a_workflow_is_denied_to_non_designers_then_allowed(gql, opportunity, rep, designer):
    denied = save_workflow(gql, rep, funnel())
    assert denied == {"workflow": None, "errors": [denied["errors"][0]]}
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    assert not Metadata.objects.exists()
    assert save_chain(gql, designer, contract_chain())["errors"] == []
    saved = save_workflow(gql, designer, funnel())
    assert saved["errors"] == []
    doc = saved["workflow"]
    assert (doc["key"], doc["app"], doc["form"]) == ("opportunity", "b2b", "opportunity")
    assert doc["draft"] == {**funnel(), "form": "opportunity"}
    assert doc["published"] is None and doc["versions"] == []


def test_publishing_is_denied_to_non_designers_then_allowed(gql, opportunity, rep, designer):
    chain = {"input": {"app": "b2b", "key": "contract_ok"}}
    save_chain(gql, designer, contract_chain())
    denied = gql(PUBLISH_CHAIN, chain, as_user=rep)["data"]["publishApprovalChain"]
    assert denied["errors"] == [{"path": None, "code": "PERMISSION_DENIED"}]
    assert not MetadataVersion.objects.exists()
    allowed = gql(PUBLISH_CHAIN, chain, as_user=designer)["data"]["publishApprovalChain"]
    assert allowed["errors"] == [] and allowed["version"] == 1
    save_workflow(gql, designer, funnel())
    flow = {"input": {"app": "b2b", "form": "opportunity"}}
    denied = gql(PUBLISH_WORKFLOW, flow, as_user=rep)["data"]["publishWorkflow"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    allowed = gql(PUBLISH_WORKFLOW, flow, as_user=designer)["data"]["publishWorkflow"]
    assert allowed["errors"] == [] and allowed["version"] == 1
    assert allowed["workflow"]["published"]["publishedBy"] == "dana"


def _bad(mutate):
    def build():
        doc = funnel()
        mutate(doc)
        return doc

    return build


BAD_WORKFLOWS = {
    "unknown stage": (
        _bad(lambda d: d["transitions"].append({"from": "proposal", "to": "signed"})),
        ("transitions.5.to", "UNKNOWN_STAGE"),
    ),
    "role that does not exist": (
        _bad(lambda d: d["transitions"][0].update(roles=["ghost"])),
        ("transitions.0.roles.0", "UNKNOWN_ROLE"),
    ),
    "guard on a missing field": (
        _bad(lambda d: d["transitions"][0].update(guard="budget > 0")),
        ("transitions.0.guard", "UNKNOWN_REFERENCE"),
    ),
    "evidence from a text field": (
        _bad(lambda d: d["stages"][1]["requirements"]["evidence"][0].update(field="name")),
        ("stages.1.requirements.evidence.0.field", "NOT_EVIDENCE_FIELD"),
    ),
    "required field missing from the form": (
        _bad(lambda d: d["stages"][0]["requirements"]["fields"].append("budget")),
        ("stages.0.requirements.fields.3", "UNKNOWN_FIELD"),
    ),
    "transition out of a terminal stage": (
        _bad(lambda d: d["transitions"].append({"from": "won", "to": "lost"})),
        ("transitions.5.from", "TRANSITION_FROM_TERMINAL"),
    ),
    "unknown approval chain": (
        _bad(lambda d: d["transitions"][3].update(approval="nope")),
        ("transitions.3.approval", "UNKNOWN_CHAIN"),
    ),
    "not an object": (lambda: ["stages"], ("", "INVALID_DEFINITION")),
    "bad color": (
        _bad(lambda d: d["stages"][0].update(color="red")),
        ("stages.0.color", "INVALID_FORMAT"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_WORKFLOWS))
def test_bad_workflows_give_typed_errors_and_save_nothing(gql, opportunity, designer, case):
    build, expected = BAD_WORKFLOWS[case]
    published_funnel(gql, designer)
    events = AuditEvent.objects.count()
    result = save_workflow(gql, designer, build(), publish=True)
    assert result["workflow"] is None
    assert [(e["path"], e["code"]) for e in result["errors"]] == [expected]
    assert result["errors"][0]["message"]
    meta = Metadata.objects.get(kind="workflow")
    assert meta.draft == {**funnel(), "form": "opportunity"}
    assert meta.versions.count() == 1 and AuditEvent.objects.count() == events


BAD_CHAINS = {
    "condition on a missing field": (
        lambda d: d["steps"][2].update(condition="budget > 500000"),
        ("steps.2.condition", "UNKNOWN_REFERENCE"),
    ),
    "return to a later step": (
        lambda d: d["steps"][0].update(return_to="director"),
        ("steps.0.return_to", "RETURN_NOT_EARLIER"),
    ),
    "appeal on the last step": (
        lambda d: d["steps"][2].update(decisions=["approve", "appeal"]),
        ("steps.2.decisions", "APPEAL_ON_LAST_STEP"),
    ),
    "approver role missing": (
        lambda d: d["steps"][2]["approvers"][0].update(role="cfo"),
        ("steps.2.approvers.0.role", "UNKNOWN_ROLE"),
    ),
    "unknown decision": (
        lambda d: d["steps"][0].update(decisions=["approve", "veto"]),
        ("steps.0.decisions.1", "INVALID_CHOICE"),
    ),
}


@pytest.mark.parametrize("case", list(BAD_CHAINS))
def test_bad_chains_give_typed_errors_and_save_nothing(gql, opportunity, designer, case):
    mutate, expected = BAD_CHAINS[case]
    doc = contract_chain()
    mutate(doc)
    result = save_chain(gql, designer, doc, publish=True)
    assert result["chain"] is None
    assert [(e["path"], e["code"]) for e in result["errors"]] == [expected]
    assert (
        not Metadata.objects.exists()
        and not AuditEvent.objects.filter(action__startswith="approval_chain").exists()
    )


def test_published_versions_are_immutable_and_listed(gql, opportunity, designer):
    first = published_funnel(gql, designer)["workflow"]
    assert first["published"]["number"] == 1 and first["published"]["schemaVersion"] == 1
    changed = funnel()
    changed["stages"][0]["color"] = "#ff0000"
    saved = save_workflow(gql, designer, changed)["workflow"]
    assert saved["draft"]["stages"][0]["color"] == "#ff0000"
    assert saved["published"]["definition"]["stages"][0]["color"] == "#1677ff"
    flow = {"input": {"app": "b2b", "form": "opportunity"}}
    second = gql(PUBLISH_WORKFLOW, flow, as_user=designer)["data"]["publishWorkflow"]
    assert second["version"] == 2
    again = gql(PUBLISH_WORKFLOW, flow, as_user=designer)["data"]["publishWorkflow"]
    assert again["version"] == 2  # nothing changed: no new version
    doc = again["workflow"]
    assert [v["number"] for v in doc["versions"]] == [2, 1]
    assert doc["versions"][1]["contentHash"] == first["published"]["contentHash"]
    old = MetadataVersion.objects.get(metadata__kind="workflow", number=1)
    assert old.definition["stages"][0]["color"] == "#1677ff"


def test_a_version_without_a_stage_holding_records_returns_stage_in_use(
    gql, opportunity, designer, admin_actor
):
    from dajian.runtime.models import Record
    from dajian.runtime.services.records import create_record

    published_funnel(gql, designer)
    record = create_record(admin_actor, "b2b", "opportunity", {"name": "Acme"}).record
    without = funnel()
    without["initial"] = "proposal"
    without["stages"] = without["stages"][1:]
    without["transitions"] = without["transitions"][1:]
    expected = [
        {
            "field": "stages",
            "path": "stages",
            "code": "STAGE_IN_USE",
            "message": "阶段「requirement」仍有 1 条记录，请先将其移出再删除该阶段。",
        }
    ]

    saved = save_workflow(gql, designer, without, publish=True)
    assert saved == {"workflow": None, "errors": expected}
    save_workflow(gql, designer, without)  # the draft alone is accepted
    flow = {"input": {"app": "b2b", "form": "opportunity"}}
    published = gql(PUBLISH_WORKFLOW, flow, as_user=designer)["data"]["publishWorkflow"]
    assert published["version"] is None
    assert published["errors"] == [{"path": "stages", "code": "STAGE_IN_USE"}]
    assert MetadataVersion.objects.filter(metadata__kind="workflow").count() == 1
    assert Record.objects.get(pk=record.pk).stage == "requirement"


def test_round_trip_returns_what_was_saved(gql, opportunity, designer, rep):
    published_funnel(gql, designer)
    as_designer = gql(WORKFLOW, {"app": "b2b", "form": "opportunity"}, as_user=designer)
    doc = as_designer["data"]["workflow"]
    assert doc["draft"] == doc["published"]["definition"] == {**funnel(), "form": "opportunity"}
    as_rep = gql(WORKFLOW, {"app": "b2b", "form": "opportunity"}, as_user=rep)["data"]["workflow"]
    assert as_rep["draft"] is None and as_rep["versions"] == []  # designers only
    assert as_rep["published"]["definition"] == doc["published"]["definition"]
    missing = gql(WORKFLOW, {"app": "b2b", "form": "nope"}, as_user=designer)["data"]
    assert missing == {"workflow": None}


def test_chain_queries(gql, opportunity, designer):
    save_chain(gql, designer, contract_chain(), key="contract", publish=True)
    save_chain(gql, designer, {**contract_chain(), "label": "Another"}, key="another")
    data = gql(CHAINS, {"app": "b2b", "key": "contract"}, as_user=designer, language="en")["data"]
    chain = data["approvalChain"]
    assert chain["label"] == "Contract approval" and chain["form"] == "opportunity"
    assert chain["published"]["definition"] == chain["draft"] == contract_chain()
    assert [(c["key"], c["label"], len(c["versions"])) for c in data["approvalChains"]] == [
        ("another", "Another", 0),
        ("contract", "Contract approval", 1),
    ]


def test_form_render_describes_the_published_workflow(gql, opportunity, designer, rep):
    assert gql(FORM_WORKFLOW, as_user=rep)["data"]["form"]["workflow"] is None
    published_funnel(gql, designer)
    save_workflow(gql, designer, {**funnel(), "initial": "proposal"})  # a draft is not shown
    flow = gql(FORM_WORKFLOW, as_user=rep, language="en")["data"]["form"]["workflow"]
    assert flow["version"] == 1 and flow["initial"] == "requirement"
    first, proposal, negotiation, *_, lost = flow["stages"]
    assert first["label"] == "Requirement confirmation"
    assert first["labels"] == {"zh-CN": "需求确认", "en": "Requirement confirmation"}
    assert first["requirements"]["fields"] == ["pain_point", "competitor", "next_follow_up"]
    assert first["timeLimit"]["warning"] == {"days": 7, "hours": 0, "minutes": 0, "business": False}
    assert first["timeLimit"]["escalateTo"] == [{"type": "manager", "level": 1}]
    evidence = proposal["requirements"]["evidence"][0]
    assert evidence["field"] == "proposal_file" and evidence["minAge"]["hours"] == 72
    assert negotiation["requirements"]["checks"][0]["field"] == "amount"
    assert (lost["terminal"], lost["outcome"], lost["timeLimit"]) == (True, "lost", None)
    assert [r["key"] for r in lost["reasons"]] == ["price", "other"]
    transitions = {(t["from"], t["to"]): t for t in flow["transitions"]}
    assert transitions[("contract", "won")]["approval"] == "contract_ok"
    assert transitions[("contract", "won")]["roles"] == ["manager"]
    assert ("*", "lost") in transitions
    zh = gql(FORM_WORKFLOW, as_user=rep, language="zh-hans")["data"]["form"]["workflow"]
    assert zh["stages"][0]["label"] == "需求确认"


def test_app_listing_reads_workflows_without_a_query_per_form(
    gql, opportunity, designer, admin_actor, django_assert_max_num_queries
):
    published_funnel(gql, designer)
    with django_assert_max_num_queries(40) as one_form:
        gql(APPS_WORKFLOWS, as_user=designer)
    for key in ("quote", "invoice", "visit"):
        build_form(admin_actor, FIELDS, key=key, app="b2b")
    with django_assert_max_num_queries(len(one_form.captured_queries)):
        data = gql(APPS_WORKFLOWS, as_user=designer)["data"]
    forms = {f["key"]: f["workflow"] for f in data["apps"][0]["forms"]}
    assert forms["opportunity"]["initial"] == "requirement" and forms["quote"] is None


FORM_TRANSITIONS = """
query { form(app: "b2b", key: "opportunity") {
  workflow { transitions { from to checkRequirements } }
} }"""


def test_form_workflow_says_which_transitions_skip_the_requirements(gql, opportunity, designer):
    published_funnel(gql, designer)
    flow = funnel()
    for transition in flow["transitions"]:
        if transition["to"] == "lost":
            transition["check_requirements"] = False
    assert save_workflow(gql, designer, flow, publish=True)["errors"] == []

    data = gql(FORM_TRANSITIONS, as_user=designer)["data"]["form"]["workflow"]

    checks = {(t["from"], t["to"]): t["checkRequirements"] for t in data["transitions"]}
    assert checks[("*", "lost")] is False
    assert checks[("contract", "won")] is True
