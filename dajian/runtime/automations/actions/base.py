"""The base of every automation action: one class per type, one module per class.

An action type declares the JSON Schema of its spec (what follows ``"type"`` in the
automation document's ``actions`` list), checks the meaning of a spec at save time
(:meth:`ActionType.check`, every problem with a path under ``actions.N``) and runs on a
batch of targets (:meth:`ActionType.run`). Batches come from scheduled runs (up to
``DAJIAN["AUTOMATION_BATCH_SIZE"]`` records) or hold the one record of an event; an
action that can act on a whole batch in a few queries overrides :meth:`run`, the others
implement :meth:`run_one`, which the default :meth:`run` calls per target inside a
savepoint (a failing target rolls back only its own writes).

Actions run inside the engine's transaction, so their database writes commit together
with the :class:`~dajian.runtime.models.ActionExecution` rows that make them idempotent.
Actions that talk to the outside world (webhooks, IM robots, e-mail) never do I/O here:
they write a :class:`~dajian.runtime.models.Delivery`, sent after commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.db import DatabaseError, transaction

from dajian.builder.fields.base import FieldType
from dajian.platform.errors import DajianError, ErrorDetail
from dajian.runtime.automations.context import Outcome, RunContext, Target


@dataclass(frozen=True)
class CheckContext:
    """What save-time checks of a spec may look at (no queries needed).

    ``fields`` are the field types of the automation form's published version;
    ``forms`` the published field types of every form of the app by key (for mappings
    into other forms); ``role_keys`` the workspace's roles; ``member_usernames`` the
    active members among usernames the document names; ``chains`` the keys of the app's
    published approval chains with their form keys; ``names`` the variables a CEL
    expression or a template may use (fields, rollups, ``record``, ``user``, ``now``,
    ``related``, ``url``)."""

    form_key: str
    fields: Mapping[str, FieldType]
    forms: Mapping[str, Mapping[str, FieldType]]
    role_keys: frozenset[str]
    member_usernames: frozenset[str] = frozenset()
    chains: Mapping[str, str] = field(default_factory=dict)
    # The workspace's webhook allow-list (hosts, IPs, CIDRs): private targets it names
    # may be saved.
    webhook_allowlist: tuple[str, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        from dajian.builder.definitions import RESERVED_NAMES

        return frozenset(self.fields) | RESERVED_NAMES | {"related", "url"}

    @property
    def user_fields(self) -> list[str]:
        return [key for key, t in self.fields.items() if t.type == "user"]


class ActionType:
    """Base class of automation actions (see the module docstring)."""

    type: ClassVar[str] = ""
    label: ClassVar[Mapping[str, str]] = {}
    # JSON Schema (2020-12) of the whole spec, "type": {"const": <type>} included.
    schema: ClassVar[Mapping[str, Any]] = {"type": "object"}

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        """Problems with the meaning of ``spec`` (its shape was checked by ``schema``)."""
        return []

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        """One outcome per target, in order."""
        outcomes = []
        for target in targets:
            try:
                with transaction.atomic():
                    outcomes.append(self.run_one(ctx, target))
            except DajianError as exc:
                outcomes.append(Outcome.failed(_describe(exc.errors), retry=False))
            except DatabaseError as exc:
                outcomes.append(Outcome.failed(f"database error: {exc}"))
        return outcomes

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        raise NotImplementedError

    def finishes(self, spec: Mapping[str, Any]) -> bool:
        """Whether this spec also acts once for the whole run (a digest), after every
        batch: the engine then calls :meth:`finish`."""
        return False

    def finish(self, ctx: RunContext) -> Outcome:
        """The run-level part of the action, once per run (idempotent like the rest: an
        execution with record 0 marks it done). ``ctx.run``'s executions of
        ``ctx.index`` tell what the batches did."""
        raise NotImplementedError


def _describe(errors: Sequence[ErrorDetail]) -> str:
    return "; ".join(f"{e.path or e.field or ''}: {e.code} {e.message}".strip(": ") for e in errors)
