"""The recipient-type contract: one subclass per spec ``type``, one module per subclass.

A recipient type knows, for one spec (``{"type": "manager", "level": 2}``):
- the problems of the spec for metadata checks (:meth:`RecipientType.check`);
- what it needs loaded (:meth:`RecipientType.prepare`, declared on a :class:`Lookup`
  before any query runs, so every spec of a list shares the same few set-based queries);
- the user ids it names (:meth:`RecipientType.resolve`), unfiltered: membership and
  activity are checked once for all specs by :func:`resolve_recipients`;
- a short label for UIs (:meth:`RecipientType.describe`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message

if TYPE_CHECKING:
    from dajian.platform.recipients.lookup import Lookup

# Levels and depths of the org chart a spec may name.
MAX_LEVEL = 20
MAX_USERS = 100


class RecipientErrorCode(StrEnum):
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    UNKNOWN_RECIPIENT_TYPE = "UNKNOWN_RECIPIENT_TYPE"
    MISSING_ROLE = "MISSING_ROLE"
    UNKNOWN_ROLE = "UNKNOWN_ROLE"
    MISSING_FIELD = "MISSING_FIELD"
    NOT_A_USER_FIELD = "NOT_A_USER_FIELD"
    INVALID_LEVEL = "INVALID_LEVEL"
    INVALID_SUBJECT = "INVALID_SUBJECT"
    INVALID_USERS = "INVALID_USERS"


MESSAGES: dict[str, dict[str, str]] = {
    "INVALID_RECIPIENT": {
        "en": 'A recipient is an object with a "type".',
        "zh-CN": "接收人应为带有 type 的对象。",
    },
    "UNKNOWN_RECIPIENT_TYPE": {
        "en": "Unknown recipient type {type!r}.",
        "zh-CN": "未知的接收人类型 {type}。",
    },
    "MISSING_ROLE": {"en": "Name a role.", "zh-CN": "请指定角色。"},
    "UNKNOWN_ROLE": {
        "en": "The workspace has no role {role!r}.",
        "zh-CN": "工作区中没有角色 {role}。",
    },
    "MISSING_FIELD": {"en": "Name a user field.", "zh-CN": "请指定成员字段。"},
    "NOT_A_USER_FIELD": {
        "en": "{field!r} is not a user field of the form.",
        "zh-CN": "{field} 不是表单中的成员字段。",
    },
    "INVALID_LEVEL": {
        "en": "Expected a whole number from {low} to {high}.",
        "zh-CN": "应为 {low} 到 {high} 之间的整数。",
    },
    "INVALID_SUBJECT": {
        "en": '"of" is "owner" or "submitter".',
        "zh-CN": "of 只能是 owner 或 submitter。",
    },
    "INVALID_USERS": {
        "en": "Give 1 to {limit} usernames.",
        "zh-CN": "请给出 1 到 {limit} 个用户名。",
    },
}


def recipient_error(code: RecipientErrorCode, path: str, **params: Any) -> ErrorDetail:
    """An error at ``path`` (``steps.0.approvers.1.role``); ``field`` is its first key."""
    return ErrorDetail.at(path, code, format_message(MESSAGES, code, **params))


class Subject(StrEnum):
    """Whose org-chart place an org-chart spec starts from (``of``)."""

    OWNER = "owner"
    SUBMITTER = "submitter"


def is_count(value: Any, low: int, high: int = MAX_LEVEL) -> bool:
    """A whole number (not a bool) within ``low``..``high``."""
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


class RecipientType:
    """Base of every recipient type; ``type`` is the spec's ``type`` string and
    ``label`` a ``{locale: text}`` name of the kind."""

    type: ClassVar[str] = ""
    label: ClassVar[Mapping[str, str]] = {}

    def __init__(self, spec: Mapping[str, Any]):
        self.spec = spec

    def check(
        self, path: str, user_fields: frozenset[str], role_keys: frozenset[str]
    ) -> list[ErrorDetail]:
        """Problems of the spec at ``path`` (empty when it is fine)."""
        return []

    def prepare(self, lookup: Lookup) -> None:
        """Declare what :meth:`resolve` will read from ``lookup`` (nothing by default)."""

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        """User ids the spec names, in order (not yet filtered to active members)."""
        raise NotImplementedError

    def describe(self) -> dict[str, str]:
        """A short ``{"zh-CN": …, "en": …}`` label of this spec for UIs."""
        return dict(self.label)


class OrgChartType(RecipientType):
    """A type that starts from the owner's or the submitter's place in the org chart
    (``of``, default ``owner``) and takes one count option (``option``)."""

    option: ClassVar[str] = "level"
    default: ClassVar[int] = 1
    minimum: ClassVar[int] = 1

    @property
    def subject(self) -> Subject:
        try:
            return Subject(self.spec.get("of", Subject.OWNER))
        except ValueError:
            return Subject.OWNER

    @property
    def count(self) -> int | None:
        """The option's value, or None when it is invalid (then nobody is named)."""
        value = self.spec.get(self.option, self.default)
        return value if is_count(value, self.minimum) else None

    def check(
        self, path: str, user_fields: frozenset[str], role_keys: frozenset[str]
    ) -> list[ErrorDetail]:
        errors = []
        if not is_count(self.spec.get(self.option, self.default), self.minimum):
            errors.append(
                recipient_error(
                    RecipientErrorCode.INVALID_LEVEL,
                    f"{path}.{self.option}",
                    low=self.minimum,
                    high=MAX_LEVEL,
                )
            )
        if self.spec.get("of", Subject.OWNER) not in set(Subject):
            errors.append(recipient_error(RecipientErrorCode.INVALID_SUBJECT, f"{path}.of"))
        return errors

    def prepare(self, lookup: Lookup) -> None:
        lookup.want_org_chart(self.subject)
