"""``{"type": "department_head", "depth": 1, "of": "owner"}``: the head of a department
containing the owner, by its depth in the org chart."""

from __future__ import annotations

from collections.abc import Iterable

from dajian.platform.recipients.base import OrgChartType
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.manager import whose
from dajian.platform.recipients.registry import register


@register
class DepartmentHeadRecipient(OrgChartType):
    """The manager of the owner's (or submitter's) org-unit ancestor at ``depth``: the
    root unit is depth 0, a top-level department depth 1. Nobody when the owner's unit is
    shallower than ``depth`` or that unit has no manager."""

    type = "department_head"
    label = {"zh-CN": "部门负责人", "en": "Department head"}
    option = "depth"
    default = 1
    minimum = 0

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        depth = self.count
        head = lookup.unit_manager_at_depth(self.subject, depth) if depth is not None else None
        return [head] if head is not None else []

    def describe(self) -> dict[str, str]:
        depth = self.count if self.count is not None else self.default
        return whose(
            self.subject,
            {"zh-CN": f"第 {depth} 级部门负责人", "en": f"Head of the level-{depth} department"},
        )
