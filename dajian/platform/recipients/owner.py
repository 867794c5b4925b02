"""``{"type": "owner"}``: the record's owner."""

from __future__ import annotations

from collections.abc import Iterable

from dajian.platform.recipients.base import RecipientType
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.registry import register


@register
class OwnerRecipient(RecipientType):
    """The owner of the record (nobody when the record has none)."""

    type = "owner"
    label = {"zh-CN": "负责人", "en": "Owner"}

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        return [lookup.ctx.owner_id] if lookup.ctx.owner_id is not None else []
