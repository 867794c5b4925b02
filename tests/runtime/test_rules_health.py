"""R20 as metadata: a weighted health score (a formula) below 75 puts a to-do on the
regional director's list (a ``create_todo`` automation on updates of the score). The
scenario shows the rule firing, not firing at 75, refused without the role, and a new
version taking effect with the next update; the documents are in
:mod:`tests.runtime.rules_scenarios`.
"""

from __future__ import annotations

from typing import Any

import pytest

from dajian.builder.models import Metadata
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.runtime.models import Record, TodoTask
from tests.factories import make_user
from tests.runtime.rules_scenarios import (
    HEALTH_ALERT,
    PROJECT,
    automate,
    create,
    design,
    label,
    update,
)

pytest_plugins = ["tests.runtime.rules_plugin"]


@pytest.fixture
def director(workspace):
    return make_user("director", workspace, roles=["regional_director"])


@pytest.fixture
def health_app(admin_actor, director):
    design(admin_actor, "project", PROJECT)
    return automate(admin_actor, "health_alert", HEALTH_ALERT)


def project(actor: Actor, name: str = "P1") -> Record:
    scores = {"stage_completion": 80, "doc_completeness": 80, "supply_assurance": 80}
    return create(actor, "project", name=name, **scores)


def scored(actor: Actor, record: Record, stage: float, docs: float, supply: float) -> Any:
    data = {"stage_completion": stage, "doc_completeness": docs, "supply_assurance": supply}
    return update(actor, record, **data).data["health"]


def todos(user: Any) -> list[tuple[int | None, str]]:
    rows = TodoTask.objects.filter(assignee=user).order_by("pk")
    return [(t.record_id, t.title["en"]) for t in rows]


def test_a_health_of_74_9_puts_a_todo_on_the_regional_directors_list(
    health_app, director, rep_actor
):
    record = project(rep_actor)

    health = scored(rep_actor, record, 70, 80, 76.33)

    assert health == 74.9  # 28 + 24 + 22.899, one decimal
    assert todos(director) == [(record.pk, "Project health 74.9: P1")]
    task = TodoTask.objects.get(assignee=director)
    assert task.source == "automation:sales.health_alert"
    assert task.suggested_actions == [{"key": "review", "label": label("安排复盘", "Review it")}]
    assert task.due_at is not None


@pytest.mark.parametrize(
    "scores",
    [
        pytest.param((72, 78, 76), id="75.0"),
        # the plain mean is 73.3; weighted 40/30/30 it is 75.0
        pytest.param((90, 65, 65), id="weighted-75.0"),
    ],
)
def test_a_health_of_75_makes_no_todo(health_app, director, rep_actor, scores):
    record, control = project(rep_actor, "P1"), project(rep_actor, "P2")

    assert scored(rep_actor, record, *scores) == 75.0
    scored(rep_actor, control, 70, 80, 76.33)

    assert todos(director) == [(control.pk, "Project health 74.9: P2")]


def test_the_health_alert_is_refused_until_the_role_exists(admin_actor):
    design(admin_actor, "project", PROJECT)

    with pytest.raises(DajianError) as caught:
        automate(admin_actor, "health_alert", HEALTH_ALERT)

    assert [(e.path, e.code) for e in caught.value.errors] == [
        ("actions.0.assignee.0.role", "UNKNOWN_ROLE")
    ]
    assert not Metadata.objects.filter(key="health_alert").exists()


def test_a_new_health_threshold_applies_to_the_next_update(
    health_app, admin_actor, director, rep_actor
):
    first, second = project(rep_actor, "P1"), project(rep_actor, "P2")
    assert scored(rep_actor, first, 80, 76, 76) == 77.6
    assert todos(director) == []

    automate(admin_actor, "health_alert", {**HEALTH_ALERT, "condition": "health < 80.0"})
    scored(rep_actor, second, 80, 76, 76)

    assert todos(director) == [(second.pk, "Project health 77.6: P2")]
