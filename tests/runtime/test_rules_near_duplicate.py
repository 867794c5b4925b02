"""R22 as metadata: a follow-up note nearly identical to an earlier note about the same
customer is flagged (a ``flag_similar_text`` automation). The scenario shows the flag, the
same words about another customer left alone, a new threshold taking effect with the next
note, and the notes scoring as documented. The documents and notes are in
:mod:`tests.runtime.rules_scenarios`; ``tests/integration/test_rules_near_duplicate_pg.py``
collects these tests again on PostgreSQL.
"""

from __future__ import annotations

from dajian.runtime.automations.actions.flag_similar_text import similarity
from tests.runtime.rules_scenarios import DUPLICATE_NOTES, automate, create, flagged, follow_ups

pytest_plugins = ["tests.runtime.rules_plugin"]


def test_only_the_near_duplicate_note_of_the_same_customer_is_flagged(notes_app, rep_actor, notes):
    acme = create(rep_actor, "customer", name="ACME")
    bolt = create(rep_actor, "customer", name="Bolt")

    mine = follow_ups(rep_actor, acme, notes.first, notes.other, notes.near)
    # the same words about another customer are not a repetition
    theirs = follow_ups(rep_actor, bolt, notes.first)

    assert flagged(mine) == [False, False, True]
    assert flagged(theirs) == [False]


def test_a_new_similarity_threshold_applies_to_the_next_note(
    notes_app, admin_actor, rep_actor, notes
):
    acme = create(rep_actor, "customer", name="ACME")
    bolt = create(rep_actor, "customer", name="Bolt")
    before = follow_ups(rep_actor, acme, notes.first, notes.reworded)
    assert flagged(before) == [False, True]  # the rewording scores ≥ 0.6

    [action] = DUPLICATE_NOTES["actions"]
    automate(
        admin_actor,
        "duplicate_notes",
        {**DUPLICATE_NOTES, "actions": [{**action, "threshold": 0.8}]},
    )
    after = follow_ups(rep_actor, bolt, notes.first, notes.reworded, notes.near)

    assert flagged(after) == [False, False, True]  # rewording < 0.8 ≤ near duplicate


def test_the_scenario_notes_score_as_documented(notes):
    found = [similarity(notes.first, text) for text in (notes.near, notes.reworded, notes.other)]

    assert [round(score, 2) for score in found] == list(notes.scores)
