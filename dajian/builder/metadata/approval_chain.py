"""The typed view of a published approval chain document (format: docs/approvals.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from dajian.platform.durations import Duration


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    RETURN = "return"
    DELEGATE = "delegate"
    CONFIRM = "confirm"
    APPEAL = "appeal"


class StepMode(StrEnum):
    ANY = "any"  # or-sign: the first decision decides
    ALL = "all"  # countersign: everyone approves, one veto rejects
    SEQUENTIAL = "sequential"  # one approver after another, in order
    RATIO = "ratio"  # at least ``ratio`` of the approvers approve


class OnReject(StrEnum):
    REJECT = "reject"  # the request ends rejected, the record is editable again
    FREEZE = "freeze"  # rejected and the record frozen
    RETURN = "return"  # back to ``return_to`` (a step key) or to the submitter


class SlaAction(StrEnum):
    REMIND = "remind"
    ESCALATE = "escalate"  # a task for the approver's manager
    APPROVE = "approve"  # auto-approve as the system actor
    REJECT = "reject"  # auto-reject as the system actor


@dataclass(frozen=True)
class StepSla:
    within: Duration
    then: SlaAction = SlaAction.REMIND


@dataclass(frozen=True)
class Step:
    key: str
    label: Mapping[str, str] | str
    approvers: tuple[Mapping[str, Any], ...]
    condition: str | None = None
    mode: StepMode = StepMode.ANY
    ratio: float | None = None
    decisions: frozenset[Decision] = frozenset({Decision.APPROVE, Decision.REJECT})
    on_reject: OnReject = OnReject.REJECT
    return_to: str | None = None
    appeal_min_evidence: int = 1
    sla: StepSla | None = None
    cc: tuple[Mapping[str, Any], ...] = ()


class EditWhilePending(StrEnum):
    REFUSE = "refuse"
    REROUTE = "reroute"  # accept the edit and restart the request from the first step


@dataclass(frozen=True)
class ChainDefinition:
    """Ordered steps of an approval chain on one form."""

    key: str
    form: str
    label: Mapping[str, str] | str
    steps: tuple[Step, ...]
    allow_self_approval: bool = False
    edit_while_pending: EditWhilePending = EditWhilePending.REFUSE
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def step_index(self, key: str) -> int | None:
        return next((i for i, s in enumerate(self.steps) if s.key == key), None)

    @classmethod
    def parse(cls, key: str, raw: Mapping[str, Any]) -> ChainDefinition:
        """Build the view of a document that passed the meta-schema and checks."""
        return cls(
            key=key,
            form=raw["form"],
            label=raw.get("label", key),
            steps=tuple(_step(s) for s in raw.get("steps", ())),
            allow_self_approval=bool(raw.get("allow_self_approval", False)),
            edit_while_pending=EditWhilePending(raw.get("edit_while_pending", "refuse")),
            raw=raw,
        )


def _step(raw: Mapping[str, Any]) -> Step:
    sla = raw.get("sla")
    within = Duration.parse(sla.get("within"), bool(sla.get("business"))) if sla else None
    return Step(
        key=raw["key"],
        label=raw.get("label", raw["key"]),
        approvers=tuple(raw.get("approvers", ())),
        condition=raw.get("condition"),
        mode=StepMode(raw.get("mode", "any")),
        ratio=raw.get("ratio"),
        decisions=frozenset(Decision(d) for d in raw.get("decisions", ("approve", "reject"))),
        on_reject=OnReject(raw.get("on_reject", "reject")),
        return_to=raw.get("return_to"),
        appeal_min_evidence=int(raw.get("appeal_min_evidence", 1)),
        sla=StepSla(within=within, then=SlaAction(sla.get("then", "remind")))
        if sla and within
        else None,
        cc=tuple(raw.get("cc", ())),
    )
