"""``{"type": "field", "field": "account_manager"}``: the users in a user field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql_relay import from_global_id

from dajian.platform.errors import ErrorDetail
from dajian.platform.recipients.base import RecipientErrorCode, RecipientType, recipient_error
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.registry import register


def _user_id(value: Any) -> int | None:
    """A user id as stored by the ``user`` field type (an int), also accepting digit
    strings and ``User`` global ids as sent by clients."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str):
        if value.isdigit() and len(value) < 19:
            return int(value)
        try:
            kind, raw = from_global_id(value)
        except Exception:  # noqa: BLE001 - an undecodable id names nobody
            return None
        if kind == "User" and raw.isdigit() and len(raw) < 19:
            return int(raw)
    return None


@register
class FieldRecipient(RecipientType):
    """The user (or users, for a ``multiple`` field, in stored order) in the record's
    field ``field``; nobody when it is empty."""

    type = "field"
    label = {"zh-CN": "字段中的成员", "en": "Users in a field"}

    @property
    def field(self) -> str | None:
        key = self.spec.get("field")
        return key if isinstance(key, str) and key else None

    def check(
        self, path: str, user_fields: frozenset[str], role_keys: frozenset[str]
    ) -> list[ErrorDetail]:
        if self.field is None:
            return [recipient_error(RecipientErrorCode.MISSING_FIELD, f"{path}.field")]
        if self.field not in user_fields:
            return [
                recipient_error(
                    RecipientErrorCode.NOT_A_USER_FIELD, f"{path}.field", field=self.field
                )
            ]
        return []

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        if self.field is None:
            return []
        value = lookup.ctx.data.get(self.field)
        values = value if isinstance(value, list) else [value]
        return [uid for uid in map(_user_id, values) if uid is not None]

    def describe(self) -> dict[str, str]:
        return {
            "zh-CN": f"字段 {self.field or '?'} 中的成员",
            "en": f"Users in {self.field or '?'}",
        }
