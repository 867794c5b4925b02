"""The typed view of a published workflow document (format: docs/workflows.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dajian.platform.durations import Duration

ANY_STAGE = "*"


@dataclass(frozen=True)
class EvidenceRequirement:
    """At least ``min_count`` attachments in ``field`` whose server upload time is at
    least ``min_age`` and at most ``max_age`` before the transition."""

    field: str
    min_count: int = 1
    min_age: Duration | None = None
    max_age: Duration | None = None
    images_only: bool = False
    message: Mapping[str, str] | str | None = None


@dataclass(frozen=True)
class Check:
    """A CEL expression that must be true to leave the stage."""

    expression: str
    message: Mapping[str, str] | str
    field: str | None = None
    code: str = "CHECK_FAILED"


@dataclass(frozen=True)
class TimeLimit:
    """Warning (yellow) and overdue (red) thresholds measured from the stage-entry time;
    ``notify`` recipients are told at each level and ``escalate_to`` recipients get a
    to-do when the record becomes overdue (R8, R9). Recipients use the approver spec
    format of approval chains (``{"type": "owner"}``, ``{"type": "manager"}``…)."""

    warning: Duration | None
    overdue: Duration | None
    notify: tuple[Mapping[str, Any], ...] = ()
    escalate_to: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Reason:
    key: str
    label: Mapping[str, str] | str


@dataclass(frozen=True)
class Stage:
    key: str
    label: Mapping[str, str] | str
    color: str | None = None
    terminal: bool = False
    outcome: str | None = None  # "won" | "lost" for terminal stages
    reasons: tuple[Reason, ...] = ()
    required_fields: tuple[str, ...] = ()
    evidence: tuple[EvidenceRequirement, ...] = ()
    checks: tuple[Check, ...] = ()
    time_limit: TimeLimit | None = None


@dataclass(frozen=True)
class Transition:
    """``from_stage`` may be ``*`` (any non-terminal stage). ``roles`` empty means any
    member with update access to the record; ``approval`` names a chain that must approve
    before the move completes. With ``check_requirements`` false the requirements of the
    stage being left do not apply (the guard and roles still do)."""

    from_stage: str
    to: str
    label: Mapping[str, str] | str | None = None
    roles: tuple[str, ...] = ()
    guard: str | None = None
    guard_message: Mapping[str, str] | str | None = None
    approval: str | None = None
    check_requirements: bool = True

    def leaves(self, stage: str | None, stages: Mapping[str, Stage]) -> bool:
        if self.from_stage == ANY_STAGE:
            current = stages.get(stage or "")
            return current is not None and not current.terminal and stage != self.to
        return self.from_stage == stage


@dataclass(frozen=True)
class WorkflowDefinition:
    """Ordered stages, transitions between them and the initial stage of new records."""

    form: str
    initial: str
    stages: tuple[Stage, ...]
    transitions: tuple[Transition, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def stage_map(self) -> dict[str, Stage]:
        return {s.key: s for s in self.stages}

    def transitions_from(self, stage: str | None) -> list[Transition]:
        return [t for t in self.transitions if t.leaves(stage, self.stage_map)]

    def transition(self, stage: str | None, to: str) -> Transition | None:
        return next((t for t in self.transitions_from(stage) if t.to == to), None)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> WorkflowDefinition:
        """Build the view of a document that passed the meta-schema and checks."""
        stages = tuple(_stage(s) for s in raw.get("stages", ()))
        return cls(
            form=raw.get("form", ""),
            initial=raw.get("initial") or (stages[0].key if stages else ""),
            stages=stages,
            transitions=tuple(
                Transition(
                    from_stage=t["from"],
                    to=t["to"],
                    label=t.get("label"),
                    roles=tuple(t.get("roles", ())),
                    guard=t.get("guard"),
                    guard_message=t.get("guard_message"),
                    approval=t.get("approval"),
                    check_requirements=bool(t.get("check_requirements", True)),
                )
                for t in raw.get("transitions", ())
            ),
            raw=raw,
        )


def _stage(raw: Mapping[str, Any]) -> Stage:
    req = raw.get("requirements") or {}
    limit = raw.get("time_limit")
    return Stage(
        key=raw["key"],
        label=raw.get("label", raw["key"]),
        color=raw.get("color"),
        terminal=bool(raw.get("terminal", False)),
        outcome=raw.get("outcome"),
        reasons=tuple(Reason(r["key"], r.get("label", r["key"])) for r in raw.get("reasons", ())),
        required_fields=tuple(req.get("fields", ())),
        evidence=tuple(
            EvidenceRequirement(
                field=e["field"],
                min_count=int(e.get("min_count", 1)),
                min_age=Duration.parse(e.get("min_age")),
                max_age=Duration.parse(e.get("max_age")),
                images_only=bool(e.get("images_only", False)),
                message=e.get("message"),
            )
            for e in req.get("evidence", ())
        ),
        checks=tuple(
            Check(
                expression=c["expression"],
                message=c.get("message", c["expression"]),
                field=c.get("field"),
                code=c.get("code", "CHECK_FAILED"),
            )
            for c in req.get("checks", ())
        ),
        time_limit=(
            TimeLimit(
                warning=Duration.parse(limit.get("warning"), bool(limit.get("business"))),
                overdue=Duration.parse(limit.get("overdue"), bool(limit.get("business"))),
                notify=tuple(limit.get("notify", ())),
                escalate_to=tuple(limit.get("escalate_to", ())),
            )
            if limit
            else None
        ),
    )
