"""Recipient specs: who approvers, CC and notifications point at (R11, R13)."""

from __future__ import annotations

import pytest
from django.core import checks
from graphql_relay import to_global_id

from dajian.platform.models import Membership, OrgUnit
from dajian.platform.org import create_org_unit
from dajian.platform.recipients import (
    RecipientContext,
    check_recipient_spec,
    describe,
    manager_of,
    registry,
    resolve_recipients,
)
from dajian.platform.recipients.base import RecipientType
from tests.factories import make_user


def place(user, workspace, unit: OrgUnit, manages: bool = False) -> None:
    """Put ``user`` in ``unit`` (and make them its manager)."""
    Membership.objects.filter(workspace=workspace, user=user).update(org_unit=unit)
    if manages:
        unit.manager = user
        unit.save(update_fields=["manager"])


@pytest.fixture
def chart(workspace, user_factory):
    """Company (ceo) > Sales (vp) > East (lead; rep and rep2 work there) > Desk (no
    manager; clerk works there). Kim is in Sales and manages nothing; the vp also
    manages Key Accounts under Sales, where the account manager works."""
    people = {
        name: user_factory(username=name)
        for name in ("ceo", "vp", "lead", "rep", "rep2", "clerk", "kim", "am")
    }
    company = create_org_unit(workspace, "Company")
    sales = create_org_unit(workspace, "Sales", parent=company)
    east = create_org_unit(workspace, "East", parent=sales)
    desk = create_org_unit(workspace, "Desk", parent=east)
    key_accounts = create_org_unit(workspace, "Key Accounts", parent=sales)
    place(people["ceo"], workspace, company, manages=True)
    place(people["vp"], workspace, sales, manages=True)
    place(people["lead"], workspace, east, manages=True)
    for name in ("rep", "rep2"):
        place(people[name], workspace, east)
    place(people["clerk"], workspace, desk)
    place(people["kim"], workspace, sales)
    key_accounts.manager = people["vp"]
    key_accounts.save(update_fields=["manager"])
    place(people["am"], workspace, key_accounts)
    return {name: user.pk for name, user in people.items()}


def resolve(workspace, specs, owner=None, submitter=None, data=None):
    ctx = RecipientContext(
        workspace=workspace, owner_id=owner, submitter_id=submitter, data=data or {}
    )
    return resolve_recipients(specs, ctx)


def deactivate(workspace, user_id):
    Membership.objects.filter(workspace=workspace, user_id=user_id).update(is_active=False)


# --- owner, submitter, users, roles -----------------------------------------------------


def test_owner_and_submitter(workspace, chart):
    specs = [{"type": "submitter"}, {"type": "owner"}]
    assert resolve(workspace, specs, owner=chart["rep"], submitter=chart["kim"]) == [
        chart["kim"],
        chart["rep"],
    ]
    assert resolve(workspace, specs) == []


def test_users_by_name_in_the_listed_order(workspace, other_workspace, chart):
    make_user("outsider", other_workspace)
    spec = {"type": "user", "users": ["vp", "outsider", "nobody", "rep"]}
    assert resolve(workspace, [spec]) == [chart["vp"], chart["rep"]]


def test_role_members_are_active_members_ordered_by_id(workspace, other_workspace):
    # given three finance members, one of them inactive, one a deactivated user
    later = make_user("fin_b", workspace, roles=["finance"])
    first = make_user("fin_a", workspace, roles=["finance"])
    gone = make_user("fin_gone", workspace, roles=["finance"])
    disabled = make_user("fin_disabled", workspace, roles=["finance"])
    make_user("fin_elsewhere", other_workspace, roles=["finance"])
    make_user("sales_only", workspace, roles=["sales"])
    deactivate(workspace, gone.pk)
    disabled.is_active = False
    disabled.save()
    # then
    assert resolve(workspace, [{"type": "role", "role": "finance"}]) == sorted([later.pk, first.pk])
    assert resolve(workspace, [{"type": "role", "role": "missing"}]) == []


# --- the org chart ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "level", "expected"),
    [
        ("rep", 1, "lead"),  # the manager of the owner's unit
        ("rep", 2, "vp"),
        ("rep", 3, "ceo"),
        ("rep", 4, None),  # above the top
        ("lead", 1, "vp"),  # manages their own unit: the parent's manager
        ("clerk", 1, "lead"),  # Desk has no manager: the nearest one above
        ("kim", 1, "vp"),
        ("am", 1, "vp"),
        ("am", 2, "ceo"),  # the vp counts once though managing two levels
        ("ceo", 1, None),
    ],
)
def test_manager_levels(workspace, chart, owner, level, expected):
    found = resolve(workspace, [{"type": "manager", "level": level}], owner=chart[owner])
    assert found == ([chart[expected]] if expected else [])
    assert manager_of(workspace, chart[owner], level) == (chart[expected] if expected else None)


def test_manager_defaults_to_level_one_of_the_owner(workspace, chart):
    assert resolve(workspace, [{"type": "manager"}], owner=chart["rep"]) == [chart["lead"]]


def test_manager_of_the_submitter(workspace, chart):
    spec = {"type": "manager", "of": "submitter"}
    assert resolve(workspace, [spec], owner=chart["rep"], submitter=chart["kim"]) == [chart["vp"]]
    assert resolve(workspace, [spec], owner=chart["rep"]) == []


def test_manager_chain_level_by_level(workspace, chart):
    chain = {"type": "manager_chain"}
    assert resolve(workspace, [chain], owner=chart["clerk"]) == [chart["lead"], chart["vp"]]
    chain = {"type": "manager_chain", "levels": 5}
    assert resolve(workspace, [chain], owner=chart["clerk"]) == [
        chart["lead"],
        chart["vp"],
        chart["ceo"],
    ]
    # each distinct manager once
    assert resolve(workspace, [chain], owner=chart["am"]) == [chart["vp"], chart["ceo"]]
    assert resolve(workspace, [{**chain, "of": "submitter"}], submitter=chart["lead"]) == [
        chart["vp"],
        chart["ceo"],
    ]


@pytest.mark.parametrize(
    ("owner", "depth", "expected"),
    [
        ("rep", 1, "vp"),
        ("rep", 0, "ceo"),
        ("rep", 2, "lead"),
        ("clerk", 3, None),  # Desk (depth 3) has no manager
        ("rep", 3, None),  # East is at depth 2: no ancestor at depth 3
        ("vp", 1, "vp"),  # the head of their own department
    ],
)
def test_department_head(workspace, chart, owner, depth, expected):
    found = resolve(workspace, [{"type": "department_head", "depth": depth}], owner=chart[owner])
    assert found == ([chart[expected]] if expected else [])


def test_member_without_org_unit_has_no_manager(workspace, chart, user_factory):
    loner = user_factory(username="loner")
    specs = [{"type": "manager"}, {"type": "manager_chain"}, {"type": "department_head"}]
    assert resolve(workspace, specs, owner=loner.pk) == []
    assert manager_of(workspace, loner.pk) is None


def test_make_user_manager_builds_a_chain(workspace):
    # given the factory's way of building teams
    boss = make_user("boss2", workspace)
    middle = make_user("middle", workspace, manager=boss)
    worker = make_user("worker", workspace, manager=middle)
    # then
    chain = [{"type": "manager_chain", "levels": 3}]
    assert resolve(workspace, chain, owner=worker.pk) == [middle.pk, boss.pk]
    assert manager_of(workspace, middle.pk) == boss.pk


def test_inactive_managers_are_left_out(workspace, chart):
    deactivate(workspace, chart["lead"])
    chain = {"type": "manager_chain", "levels": 3}
    assert resolve(workspace, [chain], owner=chart["rep"]) == [chart["vp"], chart["ceo"]]
    assert resolve(workspace, [{"type": "manager"}], owner=chart["rep"]) == []


def test_the_org_chart_of_another_workspace_is_never_used(workspace, other_workspace, chart):
    # given the rep also works in another workspace, under a foreign manager
    foreign_boss = make_user("foreign_boss", other_workspace)
    foreign_unit = create_org_unit(other_workspace, "Elsewhere", manager=foreign_boss)
    Membership.objects.create(
        workspace=other_workspace, user_id=chart["rep"], org_unit=foreign_unit
    )
    # then the record's workspace decides
    assert resolve(workspace, [{"type": "manager"}], owner=chart["rep"]) == [chart["lead"]]
    assert manager_of(other_workspace, chart["rep"]) == foreign_boss.pk


# --- fields ---------------------------------------------------------------------------------


def test_user_field_single_and_multiple(workspace, other_workspace, chart):
    outsider = make_user("outsider2", other_workspace)
    deactivate(workspace, chart["rep2"])
    data = {
        "account_manager": chart["kim"],
        "helpers": [chart["vp"], chart["rep2"], outsider.pk, to_global_id("User", chart["am"])],
        "empty": None,
    }
    specs = [
        {"type": "field", "field": "account_manager"},
        {"type": "field", "field": "helpers"},
        {"type": "field", "field": "empty"},
        {"type": "field", "field": "absent"},
    ]
    assert resolve(workspace, specs, data=data) == [chart["kim"], chart["vp"], chart["am"]]


# --- lists of specs -----------------------------------------------------------------------


ALL_TYPES = [
    {"type": "field", "field": "account_manager"},
    {"type": "manager", "level": 2},
    {"type": "user", "users": ["ceo", "kim"]},
    {"type": "role", "role": "finance"},
    {"type": "owner"},
    {"type": "submitter"},
    {"type": "manager_chain", "levels": 3},
    {"type": "department_head", "depth": 1, "of": "submitter"},
    {"type": "manager", "of": "submitter"},
]


def test_spec_order_without_repeats(workspace, chart):
    finance = make_user("fin", workspace, roles=["finance"])
    found = resolve(
        workspace,
        ALL_TYPES,
        owner=chart["clerk"],
        submitter=chart["am"],
        data={"account_manager": chart["kim"]},
    )
    assert found == [
        chart["kim"],  # field
        chart["vp"],  # manager level 2 of the clerk
        chart["ceo"],  # users (kim already named)
        finance.pk,  # role
        chart["clerk"],  # owner
        chart["am"],  # submitter
        chart["lead"],  # the chain: lead (vp and ceo already named)
    ]


def test_unknown_types_name_nobody(workspace, chart):
    specs = [{"type": "astrologer"}, "owner", {"type": "owner"}]
    assert resolve(workspace, specs, owner=chart["rep"]) == [chart["rep"]]


def test_query_count_is_bounded_whatever_the_specs(workspace, chart, django_assert_max_num_queries):
    # given a deep chart: ten more levels under Desk, the owner at the bottom
    parent = OrgUnit.objects.get(workspace=workspace, name="Desk")
    for level in range(10):
        boss = make_user(f"boss{level}", workspace)
        parent = create_org_unit(workspace, f"Level {level}", parent=parent, manager=boss)
    bottom = make_user("bottom", workspace, org_unit=parent)
    make_user("fin", workspace, roles=["finance"])
    specs = [*ALL_TYPES, *ALL_TYPES, {"type": "manager_chain", "levels": 20}]
    # then five queries: users, roles, memberships, ancestor units, active members
    with django_assert_max_num_queries(5):
        found = resolve(workspace, specs, owner=bottom.pk, submitter=chart["am"])
    assert chart["ceo"] in found
    assert len(found) == len(set(found))
    # and nothing to look up costs nothing
    with django_assert_max_num_queries(0):
        assert resolve(workspace, [{"type": "owner"}]) == []


# --- metadata checks ------------------------------------------------------------------------


USER_FIELDS = {"account_manager", "helpers"}
ROLES = {"finance", "sales"}


@pytest.mark.parametrize(
    ("spec", "codes"),
    [
        ({"type": "owner"}, []),
        ({"type": "submitter"}, []),
        ({"type": "user", "users": ["alice"]}, []),
        ({"type": "role", "role": "finance"}, []),
        ({"type": "manager", "level": 3, "of": "submitter"}, []),
        ({"type": "manager_chain", "levels": 4}, []),
        ({"type": "department_head", "depth": 0}, []),
        ({"type": "field", "field": "helpers"}, []),
        ("owner", ["INVALID_RECIPIENT"]),
        ({"role": "finance"}, ["UNKNOWN_RECIPIENT_TYPE"]),
        ({"type": "astrologer"}, ["UNKNOWN_RECIPIENT_TYPE"]),
        ({"type": "user", "users": []}, ["INVALID_USERS"]),
        ({"type": "user", "users": "alice"}, ["INVALID_USERS"]),
        ({"type": "role"}, ["MISSING_ROLE"]),
        ({"type": "role", "role": "astronaut"}, ["UNKNOWN_ROLE"]),
        ({"type": "field"}, ["MISSING_FIELD"]),
        ({"type": "field", "field": "amount"}, ["NOT_A_USER_FIELD"]),
        ({"type": "manager", "level": 0}, ["INVALID_LEVEL"]),
        ({"type": "manager", "level": "2"}, ["INVALID_LEVEL"]),
        ({"type": "manager", "level": True}, ["INVALID_LEVEL"]),
        ({"type": "manager_chain", "levels": 21}, ["INVALID_LEVEL"]),
        ({"type": "department_head", "depth": -1}, ["INVALID_LEVEL"]),
        ({"type": "manager", "of": "customer"}, ["INVALID_SUBJECT"]),
        ({"type": "manager", "level": 0, "of": "x"}, ["INVALID_LEVEL", "INVALID_SUBJECT"]),
    ],
)
def test_check_recipient_spec(spec, codes):
    errors = check_recipient_spec(spec, "steps.0.approvers.1", USER_FIELDS, ROLES)
    assert [e.code for e in errors] == codes
    for error in errors:
        assert error.path.startswith("steps.0.approvers.1")
        assert error.field == "steps"
        assert error.message


def test_check_errors_point_at_the_bad_option():
    [error] = check_recipient_spec({"type": "role", "role": "x"}, "cc.2", USER_FIELDS, ROLES)
    assert error.path == "cc.2.role"
    [error] = check_recipient_spec({"type": "manager", "level": 0}, "cc.0", USER_FIELDS, ROLES)
    assert error.path == "cc.0.level"


# --- labels and the registry ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "zh", "en"),
    [
        ({"type": "owner"}, "负责人", "Owner"),
        ({"type": "submitter"}, "提交人", "Submitter"),
        ({"type": "user", "users": ["a", "b"]}, "指定成员：a、b", "Users: a, b"),
        ({"type": "role", "role": "finance"}, "角色：finance", "Role: finance"),
        ({"type": "manager"}, "直属上级", "Direct manager"),
        ({"type": "manager", "level": 2}, "第 2 级上级", "Level-2 manager"),
        ({"type": "manager", "of": "submitter"}, "提交人的直属上级", "Submitter's direct manager"),
        ({"type": "manager_chain"}, "逐级上级（2 级）", "Managers, 2 levels up"),
        ({"type": "department_head"}, "第 1 级部门负责人", "Head of the level-1 department"),
        ({"type": "field", "field": "am"}, "字段 am 中的成员", "Users in am"),
        ({"type": "x"}, "未知接收人：x", "Unknown recipient: x"),
    ],
)
def test_describe(spec, zh, en):
    assert describe(spec) == {"zh-CN": zh, "en": en}


def test_every_spec_type_is_registered():
    assert registry.type_names() == [
        "department_head",
        "field",
        "manager",
        "manager_chain",
        "owner",
        "role",
        "submitter",
        "user",
    ]


@pytest.fixture
def clean_conflicts():
    before = list(registry._conflicts)
    yield
    registry._conflicts[:] = before


def test_registering_a_type_twice_is_a_system_check_error(clean_conflicts):
    assert not [e for e in checks.run_checks() if e.id == "dajian.E001"]

    class AnotherOwner(RecipientType):
        type = "owner"

    registry.register(AnotherOwner)
    errors = [e for e in checks.run_checks() if e.id == "dajian.E001"]
    assert len(errors) == 1
    assert "recipient type 'owner'" in errors[0].msg
    assert registry.get("owner") is not AnotherOwner  # the first registration stays
