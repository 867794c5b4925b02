"""``{"type": "role", "role": "finance"}``: every active member with the role."""

from __future__ import annotations

from collections.abc import Iterable

from dajian.platform.errors import ErrorDetail
from dajian.platform.recipients.base import RecipientErrorCode, RecipientType, recipient_error
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.registry import register


@register
class RoleRecipient(RecipientType):
    """Active members holding ``role``, ordered by user id (a stable order for
    sequential approval)."""

    type = "role"
    label = {"zh-CN": "角色", "en": "Role"}

    @property
    def role(self) -> str | None:
        key = self.spec.get("role")
        return key if isinstance(key, str) and key else None

    def check(
        self, path: str, user_fields: frozenset[str], role_keys: frozenset[str]
    ) -> list[ErrorDetail]:
        if self.role is None:
            return [recipient_error(RecipientErrorCode.MISSING_ROLE, f"{path}.role")]
        if self.role not in role_keys:
            return [
                recipient_error(RecipientErrorCode.UNKNOWN_ROLE, f"{path}.role", role=self.role)
            ]
        return []

    def prepare(self, lookup: Lookup) -> None:
        if self.role is not None:
            lookup.want_role(self.role)

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        return lookup.role_members(self.role) if self.role is not None else []

    def describe(self) -> dict[str, str]:
        return {"zh-CN": f"角色：{self.role or '?'}", "en": f"Role: {self.role or '?'}"}
