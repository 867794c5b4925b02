"""``{"type": "manager_chain", "levels": 2, "of": "owner"}``: managers level by level."""

from __future__ import annotations

from collections.abc import Iterable

from dajian.platform.recipients.base import OrgChartType
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.manager import whose
from dajian.platform.recipients.registry import register


@register
class ManagerChainRecipient(OrgChartType):
    """The first ``levels`` distinct managers above the owner (or submitter), nearest
    first: with ``sequential`` mode this is approval level by level up the org chart."""

    type = "manager_chain"
    label = {"zh-CN": "逐级上级", "en": "Managers level by level"}
    option = "levels"
    default = 2
    minimum = 1

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        levels = self.count
        return lookup.managers(self.subject)[:levels] if levels is not None else []

    def describe(self) -> dict[str, str]:
        levels = self.count or self.default
        return whose(
            self.subject,
            {"zh-CN": f"逐级上级（{levels} 级）", "en": f"Managers, {levels} levels up"},
        )
