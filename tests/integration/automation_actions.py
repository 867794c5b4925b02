"""Test-only automation actions, loaded by this suite's Celery workers (``--include``).

``test_stall_once``: the first call writes its ``marker`` file and sleeps, so a test can
kill the worker in the middle of a run; once the marker exists it just succeeds. It has
no database effect of its own: what it proves is that the actions before it, whose
writes were not committed when the worker died, happen exactly once in the end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from dajian.runtime.automations import actions
from dajian.runtime.automations.actions.base import ActionType
from dajian.runtime.automations.context import Outcome, RunContext, Target


class StallOnce(ActionType):
    type = "test_stall_once"
    schema = {
        "type": "object",
        "properties": {"type": {"const": "test_stall_once"}, "marker": {"type": "string"}},
    }

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        marker = Path(ctx.spec["marker"])
        if not marker.exists():
            marker.write_text(str(ctx.run.pk))
            time.sleep(120)
        return [Outcome.done() for _ in targets]


actions.registry.load()
actions.registry.items.setdefault(StallOnce.type, StallOnce())
