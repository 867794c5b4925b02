"""``{"type": "user", "users": ["alice", "bob"]}``: fixed members, by username."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.platform.recipients.base import (
    MAX_USERS,
    RecipientErrorCode,
    RecipientType,
    recipient_error,
)
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.registry import register


@register
class UserRecipient(RecipientType):
    """The named users, in the order listed (names not in the workspace are skipped)."""

    type = "user"
    label = {"zh-CN": "指定成员", "en": "Specific users"}

    @property
    def usernames(self) -> list[str]:
        users: Any = self.spec.get("users")
        if not isinstance(users, list):
            return []
        return [name for name in users if isinstance(name, str)]

    def check(
        self, path: str, user_fields: frozenset[str], role_keys: frozenset[str]
    ) -> list[ErrorDetail]:
        users = self.spec.get("users")
        valid = (
            isinstance(users, list)
            and 1 <= len(users) <= MAX_USERS
            and all(isinstance(name, str) and name for name in users)
        )
        if valid:
            return []
        return [recipient_error(RecipientErrorCode.INVALID_USERS, f"{path}.users", limit=MAX_USERS)]

    def prepare(self, lookup: Lookup) -> None:
        lookup.want_usernames(self.usernames)

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        return lookup.user_ids(self.usernames)

    def describe(self) -> dict[str, str]:
        names = self.usernames
        return {"zh-CN": f"指定成员：{'、'.join(names)}", "en": f"Users: {', '.join(names)}"}
