"""``release_to_pool``: put each record back in the public pool (R18, R24).

``{"type": "release_to_pool"}`` after, say, a ``date`` trigger 45 days past the last
follow-up empties the owner. The write is
:func:`~dajian.runtime.ownership.pool.release_record` (as the API's ``releaseRecord``):
version bump, audit event, ``record.owner_changed`` outbox event. A record already in
the pool is left as it is (done, ``changed: false``).
"""

from __future__ import annotations

from dajian.platform.errors import DajianError
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.ownership.errors import OwnershipErrorCode
from dajian.runtime.ownership.pool import release_record


@action
class ReleaseToPool(ActionType):
    type = "release_to_pool"
    label = {"zh-CN": "退回公海", "en": "Release to the public pool"}
    schema = {
        "type": "object",
        "required": ["type"],
        "additionalProperties": False,
        "properties": {"type": {"const": "release_to_pool"}},
    }

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        try:
            change = release_record(ctx.actor, target.record.pk)
        except DajianError as exc:
            if exc.errors[0].code == OwnershipErrorCode.ALREADY_IN_POOL:
                return Outcome.done(changed=False)
            raise
        return Outcome.done(previous_owner=change.previous_owner_id, changed=True)
