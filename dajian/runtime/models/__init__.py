from dajian.runtime.models.approvals import ApprovalEvent, ApprovalRequest, RequestStatus
from dajian.runtime.models.automations import (
    ActionExecution,
    AutomationRun,
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    ExecutionStatus,
    Handover,
    PoolClaim,
    RunStatus,
    WebhookSettings,
)
from dajian.runtime.models.facts import FormPromotion, RecordFact
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
    "ActionExecution",
    "ApprovalEvent",
    "ApprovalRequest",
    "ApprovalTask",
    "AutomationRun",
    "Delivery",
    "DeliveryChannel",
    "DeliveryStatus",
    "ExecutionStatus",
    "FormPromotion",
    "Handover",
    "Notification",
    "OutboxEvent",
    "PoolClaim",
    "Record",
    "RecordDedupeKey",
    "RecordFact",
    "RecordQuerySet",
    "RecordStatus",
    "RequestStatus",
    "RunStatus",
    "StageEntry",
    "Task",
    "TaskKind",
    "TaskStatus",
    "Timer",
    "TodoTask",
    "VerificationTask",
    "WebhookSettings",
]
