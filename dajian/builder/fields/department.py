"""A unit of the workspace's org chart (one, or several with ``multiple``)."""

from __future__ import annotations

from dajian.builder.fields.registry import register
from dajian.builder.fields.user import UserField


@register
class DepartmentField(UserField):
    """An org unit id (``multiple``: a list of ids); global ids are ``OrgUnit:<id>``.

    Same options, codes and filters as :class:`~dajian.builder.fields.user.UserField`.
    """

    type = "department"
    label = {"zh-CN": "部门", "en": "Department"}
    node_type = "OrgUnit"
    reference_kind = "org_unit"
    widget = "org-unit-picker"
