"""The approval engine's public entry points (import from here)."""

from dajian.runtime.approvals.decide import DecisionResult, decide_task
from dajian.runtime.approvals.edits import (
    guard_pending_delete,
    guard_pending_edit,
    reroute_after_edit,
    unfreeze_record,
)
from dajian.runtime.approvals.submit import start_request, submit_for_approval
from dajian.runtime.approvals.withdraw import withdraw_approval

__all__ = [
    "DecisionResult",
    "decide_task",
    "guard_pending_delete",
    "guard_pending_edit",
    "reroute_after_edit",
    "start_request",
    "submit_for_approval",
    "unfreeze_record",
    "withdraw_approval",
]
