"""The actor's permission policy on a form, from the published definition's rules."""

from __future__ import annotations

from dajian.builder.definitions import FormDefinition, definition_for_version
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.permissions import FormPolicy, resolve_policy


def definition_of(form: Form) -> FormDefinition | None:
    """The published definition of ``form`` (None before the first publish)."""
    if form.published_id is None:
        return None
    return definition_for_version(form.published)


def policy_for(actor: Actor, form: Form) -> FormPolicy:
    """What ``actor`` may do on ``form``; cached on the actor for the request."""
    cache = actor.__dict__.setdefault("_policies", {})
    key = (form.pk, form.published_id)
    if key not in cache:
        definition = definition_of(form)
        cache[key] = resolve_policy(actor, definition.permissions if definition else None)
    return cache[key]
