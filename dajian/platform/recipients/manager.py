"""``{"type": "manager", "level": 1, "of": "owner"}``: a manager up the org chart."""

from __future__ import annotations

from collections.abc import Iterable

from dajian.platform.recipients.base import OrgChartType, Subject
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.registry import register


def whose(subject: Subject, text: dict[str, str]) -> dict[str, str]:
    """Prefix a label with "submitter's" when the spec starts from the submitter."""
    if subject == Subject.OWNER:
        return text
    return {"zh-CN": f"提交人的{text['zh-CN']}", "en": f"Submitter's {text['en'].lower()}"}


@register
class ManagerRecipient(OrgChartType):
    """The ``level``-th distinct manager above the owner (or submitter): level 1 is the
    manager of their org unit, or of the nearest ancestor unit with another manager
    when they manage their own unit; level N walks up N managers."""

    type = "manager"
    label = {"zh-CN": "上级", "en": "Manager"}
    option = "level"
    default = 1
    minimum = 1

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        level = self.count
        managers = lookup.managers(self.subject)
        if level is None or level > len(managers):
            return []
        return [managers[level - 1]]

    def describe(self) -> dict[str, str]:
        level = self.count or self.default
        if level == 1:
            return whose(self.subject, {"zh-CN": "直属上级", "en": "Direct manager"})
        return whose(self.subject, {"zh-CN": f"第 {level} 级上级", "en": f"Level-{level} manager"})
