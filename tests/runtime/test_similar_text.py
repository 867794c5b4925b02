"""Near-duplicate follow-up notes (R22): the trigram similarity and the
``flag_similar_text`` action. On SQLite the score is computed in Python; the same cases
run on PostgreSQL in ``tests/integration/test_similar_text_pg.py``."""

from __future__ import annotations

import datetime as dt

import pytest

from dajian.platform.models import AuditEvent
from dajian.runtime.automations.actions.flag_similar_text import (
    FLAG,
    Match,
    best_match,
    similarity,
    trigrams,
)
from dajian.runtime.automations.checks import check_action
from dajian.runtime.models import OutboxEvent, Record
from dajian.runtime.services.records import create_record
from tests.automation_helpers import check_context, run_action
from tests.factories import make_actor, make_user

CUSTOMER = [{"key": "name", "type": "text", "label": "Name", "required": True}]
VISIT = [
    {"key": "customer", "type": "relation", "label": "Customer", "target": "customer"},
    {"key": "tags", "type": "relation", "label": "Tags", "target": "customer", "multiple": True},
    {"key": "note", "type": "long_text", "label": "Note"},
    {"key": "title", "type": "text", "label": "Title"},
    {"key": "minutes", "type": "number", "label": "Minutes"},
]
SPEC = {"type": "flag_similar_text", "field": "note", "threshold": 0.6}

NOTE = "客户要求降价百分之十，下周再联系采购经理"
NEAR = "客户要求降价百分之十，下周再联系采购部经理"  # one character added: 0.79
OTHER = "今天拜访了客户，介绍了新产品，客户反应一般"  # 0.05 against NOTE

# (a, b, pg_trgm's similarity): shared trigram sets over their union
PAIRS = [
    ("word", "two words", 4 / 11),
    ("Hello, World", "hello world!!", 1.0),
    (NOTE, NEAR, 19 / 24),
    ("客户要求降价百分之十", "客户要求降价百分之五", 9 / 13),
    (NOTE, OTHER, 2 / 41),
    ("Visited ACME: price 10%", "visited acme, price 12%", None),
    ("", "abc", 0.0),
    ("!!! ...", "!!! ...", 0.0),
    ("a", "a", 1.0),
    ("aaa aaa aaa", "aaa", 1.0),
]


@pytest.fixture
def reps(workspace):
    return make_user("rep", workspace), make_user("rep2", workspace)


@pytest.fixture
def visit_form(form_factory):
    form_factory(CUSTOMER, key="customer")
    return form_factory(VISIT, key="visit")


def visit(user, workspace, note: str, **data) -> Record:
    actor = make_actor(user, workspace)
    return create_record(actor, "sales", "visit", {"note": note, **data}).record


def customer(user, workspace, name: str = "ACME") -> Record:
    return create_record(make_actor(user, workspace), "sales", "customer", {"name": name}).record


# --- the similarity --------------------------------------------------------------------


def test_trigrams_are_pg_trgm_s():
    assert trigrams("Ab，cd") == {"  a", " ab", "ab ", "  c", " cd", "cd "}
    assert trigrams("中文") == {"  中", " 中文", "中文 "}  # CJK characters are letters
    assert trigrams("x_y") == {"  x", " x ", "  y", " y "}  # "_" separates words
    assert trigrams("!!!") == set()


@pytest.mark.parametrize(("a", "b", "expected"), [p for p in PAIRS if p[2] is not None])
def test_similarity_of_known_pairs(a, b, expected):
    assert similarity(a, b) == pytest.approx(expected, abs=1e-12)
    assert similarity(b, a) == pytest.approx(expected, abs=1e-12)


# --- checks ----------------------------------------------------------------------------


def problems(form, spec: dict) -> list[tuple[str, str | None]]:
    return [(e.code, e.path) for e in check_action(spec, "actions.0", check_context(form))]


def test_flag_similar_text_checks(visit_form):
    assert problems(visit_form, SPEC) == []
    assert problems(visit_form, {**SPEC, "field": "title", "scope": "customer"}) == []
    assert problems(visit_form, {**SPEC, "field": "nope"}) == [("UNKNOWN_FIELD", "actions.0.field")]
    assert problems(visit_form, {**SPEC, "field": "minutes"}) == [
        ("NOT_TEXT_FIELD", "actions.0.field")
    ]
    for scope in ("title", "tags", "nope"):
        assert problems(visit_form, {**SPEC, "scope": scope}) == [
            ("INVALID_SCOPE", "actions.0.scope")
        ]
    assert problems(visit_form, {**SPEC, "threshold": 1.5}) != []


# --- the action (these cases run on PostgreSQL too) -------------------------------------


def test_a_near_duplicate_chinese_note_is_flagged(workspace, reps, visit_form, admin_actor):
    rep, _ = reps
    first = visit(rep, workspace, NOTE)
    second = visit(rep, workspace, NEAR)

    outcomes = run_action(admin_actor, visit_form, SPEC, [second])

    assert outcomes[0].ok
    assert outcomes[0].result == {
        "matched": first.pk,
        "score": round(19 / 24, 6),
        "flagged": True,
    }
    second.refresh_from_db()
    assert second.flags == [FLAG] and second.version == 2
    event = OutboxEvent.objects.get(topic="record.flagged")
    assert event.payload["record"] == second.pk and event.payload["depth"] == 1
    audit = AuditEvent.objects.get(action="record.flagged")
    assert audit.object_id == str(second.pk) and audit.diff == {"flags": [[], [FLAG]]}


def test_below_the_threshold_nothing_is_flagged_but_the_best_match_is_named(
    workspace, reps, visit_form, admin_actor
):
    rep, _ = reps
    first = visit(rep, workspace, NOTE)
    second = visit(rep, workspace, NEAR)

    outcomes = run_action(admin_actor, visit_form, {**SPEC, "threshold": 0.8}, [second])

    assert outcomes[0].result == {"matched": first.pk, "score": 0.791667, "flagged": False}
    second.refresh_from_db()
    assert second.flags == [] and second.version == 1


def test_the_owner_scope_compares_with_the_same_owners_notes_only(
    workspace, reps, visit_form, admin_actor
):
    rep, rep2 = reps
    visit(rep2, workspace, NOTE)
    mine = visit(rep, workspace, OTHER)
    new = visit(rep, workspace, NEAR)

    outcomes = run_action(admin_actor, visit_form, SPEC, [new])

    assert outcomes[0].result["matched"] == mine.pk and not outcomes[0].result["flagged"]


def test_a_relation_scope_compares_notes_about_the_same_customer(
    workspace, reps, visit_form, admin_actor
):
    rep, rep2 = reps
    acme, globex = customer(rep, workspace), customer(rep, workspace, "Globex")
    same_customer = visit(rep2, workspace, NOTE, customer=acme.pk)
    visit(rep, workspace, NEAR, customer=globex.pk)  # closer text, other customer
    new = visit(rep, workspace, NEAR, customer=acme.pk)
    spec = {**SPEC, "scope": "customer"}

    outcomes = run_action(admin_actor, visit_form, spec, [new])

    assert outcomes[0].result["matched"] == same_customer.pk and outcomes[0].result["flagged"]
    without = visit(rep, workspace, NEAR)
    assert run_action(admin_actor, visit_form, spec, [without], key="none")[0].result == {
        "matched": None,
        "score": 0.0,
        "flagged": False,
    }


def test_notes_older_than_the_lookback_are_not_compared(workspace, reps, visit_form, admin_actor):
    rep, _ = reps
    old = visit(rep, workspace, NOTE)
    Record.objects.filter(pk=old.pk).update(created_at=old.created_at - dt.timedelta(days=31))
    new = visit(rep, workspace, NEAR)

    outcomes = run_action(admin_actor, visit_form, {**SPEC, "lookback_days": 30}, [new])

    assert outcomes[0].result["matched"] is None
    assert run_action(admin_actor, visit_form, SPEC, [new], key="default")[0].result["flagged"]


def test_only_the_latest_candidates_are_compared(workspace, reps, visit_form, admin_actor):
    rep, _ = reps
    visit(rep, workspace, NOTE)
    latest = visit(rep, workspace, OTHER)
    new = visit(rep, workspace, NEAR)

    outcomes = run_action(admin_actor, visit_form, {**SPEC, "max_candidates": 1}, [new])

    assert outcomes[0].result["matched"] == latest.pk and not outcomes[0].result["flagged"]


def test_only_earlier_notes_count_and_the_newest_wins_a_tie(
    workspace, reps, visit_form, admin_actor
):
    rep, _ = reps
    original = visit(rep, workspace, NOTE)
    copy = visit(rep, workspace, NOTE)
    third = visit(rep, workspace, NOTE)  # later than the others: never their candidate

    first, second = run_action(admin_actor, visit_form, SPEC, [original, copy])

    assert first.result["matched"] is None
    assert second.result == {"matched": original.pk, "score": 1.0, "flagged": True}
    assert best_match(third, SPEC) == Match(copy.pk, 1.0)


def test_a_flagged_note_is_not_flagged_again(workspace, reps, visit_form, admin_actor):
    rep, _ = reps
    visit(rep, workspace, NOTE)
    new = visit(rep, workspace, NOTE)
    run_action(admin_actor, visit_form, SPEC, [new])

    again = run_action(admin_actor, visit_form, SPEC, [new], key="again")

    new.refresh_from_db()
    assert again[0].result["flagged"] is False and new.version == 2
    assert OutboxEvent.objects.filter(topic="record.flagged").count() == 1


def test_empty_notes_are_neither_compared_nor_candidates(workspace, reps, visit_form, admin_actor):
    rep, _ = reps
    visit(rep, workspace, "")
    visit(rep, workspace, "   ", title="no note")
    blank = visit(rep, workspace, "")
    new = visit(rep, workspace, NEAR)

    outcomes = run_action(admin_actor, visit_form, SPEC, [blank, new])

    assert [o.result["matched"] for o in outcomes] == [None, None]


def test_notes_of_another_workspace_never_count(
    workspace, other_workspace, reps, visit_form, admin_actor
):
    rep, _ = reps
    planted = Record.objects.create(  # even a row that claims our form
        workspace=other_workspace, form=visit_form, form_version=visit_form.published,
        owner=rep, data={"note": NOTE},
    )  # fmt: skip
    new = visit(rep, workspace, NOTE)

    outcomes = run_action(admin_actor, visit_form, SPEC, [new])

    assert planted.pk < new.pk and outcomes[0].result["matched"] is None
