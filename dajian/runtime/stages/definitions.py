"""The published workflow of a form, and who may use a transition."""

from __future__ import annotations

from typing import Any

from dajian.builder.metadata.loaders import form_workflow
from dajian.builder.metadata.workflow import Stage, Transition, WorkflowDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.i18n import localize


def workflow_for(form: Form) -> WorkflowDefinition | None:
    """The published workflow of ``form`` (the parsed view is cached per immutable
    version), or None when the form has no stages. Publishing a workflow sets the form
    row's ``workflow`` column, so a write that reads its form sees it at once; read with
    ``select_related("workflow")`` this costs no query."""
    return form_workflow(form)


def workflow_for_request(cache: dict[str, Any], form: Form) -> WorkflowDefinition | None:
    """:func:`workflow_for` memoised in ``cache`` (one request's scratch space)."""
    workflows = cache.setdefault("workflows", {})
    if form.pk not in workflows:
        workflows[form.pk] = workflow_for(form)
    return workflows[form.pk]  # type: ignore[no-any-return]


def role_allows(actor: Actor, transition: Transition) -> bool:
    """Admins may use every transition; otherwise the actor needs one of its roles
    (no roles listed: anyone who may update the record)."""
    return actor.is_admin or not transition.roles or bool(actor.roles & set(transition.roles))


def stage_label(workflow: WorkflowDefinition | None, key: str | None) -> str:
    """The stage's label in the caller's language (its key when unknown)."""
    stage: Stage | None = workflow.stage_map.get(key or "") if workflow else None
    return localize(stage.label) if stage is not None else (key or "")
