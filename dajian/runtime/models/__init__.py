from dajian.runtime.models.approvals import ApprovalEvent, ApprovalRequest, RequestStatus
from dajian.runtime.models.notifications import Notification
from dajian.runtime.models.records import (
    OutboxEvent,
    Record,
    RecordDedupeKey,
    RecordQuerySet,
    RecordStatus,
)
from dajian.runtime.models.stages import StageEntry
from dajian.runtime.models.tasks import (
    ApprovalTask,
    Task,
    TaskKind,
    TaskStatus,
    TodoTask,
    VerificationTask,
)
from dajian.runtime.models.timers import Timer

__all__ = [
    "ApprovalEvent",
    "ApprovalRequest",
    "ApprovalTask",
    "Notification",
    "OutboxEvent",
    "Record",
    "RecordDedupeKey",
    "RecordQuerySet",
    "RecordStatus",
    "RequestStatus",
    "StageEntry",
    "Task",
    "TaskKind",
    "TaskStatus",
    "Timer",
    "TodoTask",
    "VerificationTask",
]
