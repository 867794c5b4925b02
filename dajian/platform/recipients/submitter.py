"""``{"type": "submitter"}``: who submitted the approval request."""

from __future__ import annotations

from collections.abc import Iterable

from dajian.platform.recipients.base import RecipientType
from dajian.platform.recipients.lookup import Lookup
from dajian.platform.recipients.registry import register


@register
class SubmitterRecipient(RecipientType):
    """The submitter of the request (nobody outside an approval)."""

    type = "submitter"
    label = {"zh-CN": "提交人", "en": "Submitter"}

    def resolve(self, lookup: Lookup) -> Iterable[int]:
        return [lookup.ctx.submitter_id] if lookup.ctx.submitter_id is not None else []
