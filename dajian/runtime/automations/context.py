"""What an action sees when it runs, and the automation depth of the current write.

The engine hands each action a :class:`RunContext` (the automation, its run, the action's
spec, a system actor of the workspace) and a batch of :class:`Target` records, each with
its CEL activation (every field, ``record``, ``now``, the record's rollups and, under
``related``, the data of the records its single-relation fields point at). The action
answers one :class:`Outcome` per target, in order.

The engine runs every action inside :func:`acting_at_depth`, so the outbox events its
writes emit carry ``depth`` one past the event that started the run; the engine stops a run whose
event is deeper than ``DAJIAN["MAX_AUTOMATION_DEPTH"]`` (loop protection).
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dajian.builder.definitions import FormDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.runtime.models import AutomationRun, Record

_depth: contextvars.ContextVar[int] = contextvars.ContextVar("automation_depth", default=0)


def current_depth() -> int:
    """How deep in an automation chain the current code runs (0: a person's write)."""
    return _depth.get()


@contextmanager
def acting_at_depth(depth: int) -> Iterator[None]:
    token = _depth.set(depth)
    try:
        yield
    finally:
        _depth.reset(token)


@dataclass(frozen=True)
class LoadedAutomation:
    """A published automation as the engine runs it."""

    metadata_id: int
    version_id: int
    workspace_id: int
    app_id: int
    app_key: str
    key: str
    form: Form
    definition: Mapping[str, Any]

    @property
    def trigger(self) -> Mapping[str, Any]:
        return self.definition["trigger"]  # type: ignore[no-any-return]

    @property
    def actions(self) -> list[Mapping[str, Any]]:
        return list(self.definition.get("actions", []))

    @property
    def source(self) -> str:
        """Where tasks and notifications say they come from."""
        return f"automation:{self.app_key}.{self.key}"


@dataclass
class Target:
    """One record an action acts on, with its CEL variables."""

    record: Record
    activation: Mapping[str, Any]

    @property
    def template_vars(self) -> dict[str, Any]:
        """Variables of message templates: the activation plus ``url`` of the record."""
        return {**dict(self.activation.items()), "url": f"/records/{self.record.pk}"}


@dataclass
class RunContext:
    """Everything an action needs besides its targets."""

    actor: Actor  # a system actor of the workspace: automations act with all permissions
    automation: LoadedAutomation
    run: AutomationRun
    spec: Mapping[str, Any]
    index: int
    now: dt.datetime
    form_definition: FormDefinition
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        """The JSON path of this action in the automation document."""
        return f"actions.{self.index}"


@dataclass(frozen=True)
class Outcome:
    """What one action did to one target. ``ok=False`` logs ``error``; with ``retry`` the
    engine tries again later (per the retry policy), without it the failure is final
    (bad data will not get better by waiting)."""

    ok: bool
    result: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    retry: bool = True

    @classmethod
    def done(cls, **result: Any) -> Outcome:
        return cls(True, result)

    @classmethod
    def failed(cls, error: str, retry: bool = True, **result: Any) -> Outcome:
        return cls(False, result, error, retry)
