from dajian.platform.models.audit import AuditChainHead, AuditEvent
from dajian.platform.models.calendar import WorkCalendar
from dajian.platform.models.files import Attachment
from dajian.platform.models.tokens import ApiToken
from dajian.platform.models.workspace import Membership, OrgUnit, Role, Workspace

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditChainHead",
    "AuditEvent",
    "Membership",
    "OrgUnit",
    "Role",
    "WorkCalendar",
    "Workspace",
]
