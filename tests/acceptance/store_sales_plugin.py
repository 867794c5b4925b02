"""The ``store_sales`` template installed in the ``sales_org`` workspace, and the steps
its people take through GraphQL (``tests/acceptance/test_store_sales_*.py`` load this
module with ``pytest_plugins``).

Every step is a GraphQL call as a member of the org (``rep1``, ``supervisor``,
``regional``...); the steps both templates take are in :mod:`tests.acceptance.steps`.
Time moves only through the entry points that take ``now=`` (schedules, timers).
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from dajian.builder.models import Metadata
from dajian.runtime.automations import schedules
from tests.acceptance.conftest import SalesOrg
from tests.acceptance.steps import ERRORS, AppSteps, create_mutation, update_mutation
from tests.automation_helpers import drain_outbox

APP = "store_sales"
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# 徐家汇: where the test stores stand
STORE_POINT = {"lat": 31.1951, "lng": 121.4371, "accuracy": 8.0}
METRES_PER_DEGREE_LAT = 111_195.0

RECORD_FIELDS = """
  id form status flags version data
  owner { username }
"""
CREATE = create_mutation(RECORD_FIELDS)
UPDATE = update_mutation(RECORD_FIELDS)
RECORD = f"""
query($id: ID!) {{
  record(id: $id) {{
    {RECORD_FIELDS}
    approval {{
      id status
      events {{ kind step actor comment attachments }}
      steps {{ key tasks {{ assignee {{ username }} status decision }} }}
    }}
  }}
}}
"""
RECORDS = f"""
query($app: String!, $form: String!, $filter: GenericScalar, $search: String) {{
  records(app: $app, form: $form, filter: $filter, search: $search, first: 100) {{
    edges {{ node {{ {RECORD_FIELDS} }} }}
  }}
}}
"""
TASKS = """
query($kind: TaskKind) {
  myTasks(kind: $kind, first: 100) {
    edges { node {
      id kind status title message dueAt createdAt allowedDecisions escalated
      record { id form } step { key }
    } }
  }
}
"""
DECIDE = f"""
mutation($task: ID!, $decision: ApprovalDecision!, $comment: String, $attachments: [ID!]) {{
  decideTask(input: {{
    taskId: $task, decision: $decision, comment: $comment, attachments: $attachments
  }}) {{
    request {{ id status }}
    {ERRORS}
  }}
}}
"""
AUTOMATION = """
query($app: String!, $key: String!) { automation(app: $app, key: $key) { enabled trigger } }
"""
NEXT_RUNS = "query($cron: String!) { nextRuns(cron: $cron, count: 3) }"
DASHBOARD = """
query($app: String!, $key: String!) {
  dashboard(app: $app, key: $key) { key widgets { key type format color data } }
}
"""


def north_of(point: dict[str, float], metres: float) -> dict[str, float]:
    """A GPS reading ``metres`` north of ``point`` (accurate to 15 m)."""
    return {
        "lat": point["lat"] + metres / METRES_PER_DEGREE_LAT,
        "lng": point["lng"],
        "accuracy": 15.0,
    }


def today() -> dt.date:
    return timezone.localdate()


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (30, 120, 200)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class StoreSales(AppSteps):
    """The installed app, driven through GraphQL as the org's members."""

    APP = APP
    CREATE = CREATE
    UPDATE = UPDATE
    RECORD = RECORD
    TASKS = TASKS

    # --- records -----------------------------------------------------------------------
    def written(self, username: str, record_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record written, read back (with its approval)."""
        return self.record(username, record_id) or record

    def records(
        self,
        username: str,
        form: str,
        filter: dict[str, Any] | None = None,
        search: str | None = None,
    ) -> list[dict[str, Any]]:
        data = self.call(username, RECORDS, app=APP, form=form, filter=filter, search=search)
        return [edge["node"] for edge in data["records"]["edges"]]

    def names(self, username: str, form: str = "store", key: str = "name") -> list[str]:
        return sorted(r["data"][key] for r in self.records(username, form))

    def photo(self, username: str, name: str = "shelf.jpg") -> int:
        """A photo taken on ``username``'s phone and uploaded; returns the attachment id."""
        return self.upload_file(username, name, jpeg(), "image/jpeg")

    # --- inbox -------------------------------------------------------------------------
    def try_decide(
        self,
        username: str,
        record_id: str,
        decision: str,
        comment: str | None = None,
        attachments: list[int] | None = None,
    ) -> dict[str, Any]:
        """``username`` decides their open approval task on the record."""
        (task,) = [t for t in self.tasks(username) if t["record"]["id"] == record_id]
        result = self.call(
            username,
            DECIDE,
            task=task["id"],
            decision=decision,
            comment=comment,
            attachments=[str(a) for a in attachments or []],
        )["decideTask"]
        drain_outbox()
        return result  # type: ignore[no-any-return]

    def dashboard(self, username: str, key: str = "store_overview") -> dict[str, dict[str, Any]]:
        """The dashboard as ``username`` sees it: widget key → widget."""
        data = self.call(username, DASHBOARD, app=APP, key=key)["dashboard"]
        return {w["key"]: w for w in data["widgets"]}

    # --- time --------------------------------------------------------------------------
    def ticks(self, key: str) -> list[dt.datetime]:
        """The next three local times the published scheduled automation ``key`` runs."""
        automation = self.call("admin", AUTOMATION, app=APP, key=key)["automation"]
        assert automation["enabled"], automation
        runs = self.call("admin", NEXT_RUNS, cron=automation["trigger"]["cron"])["nextRuns"]
        return [dt.datetime.fromisoformat(t).astimezone(SHANGHAI) for t in runs]

    def run_schedule(self, key: str, now: dt.datetime) -> None:
        """The scheduled automation ``key`` runs as its cron tick would at ``now``."""
        automation = Metadata.objects.get(workspace=self.org.workspace, app__key=APP, key=key)
        schedules.run_scheduled(automation.pk, now=now)
        drain_outbox()

    # --- business steps ----------------------------------------------------------------
    def store(
        self, username: str, name: str, level: str = "B", region: str = "east", **data: Any
    ) -> dict[str, Any]:
        data.setdefault("city", "上海")
        data.setdefault("location", STORE_POINT)
        return self.create(username, "store", name=name, level=level, region=region, **data)

    def evidence(self, username: str) -> dict[str, Any]:
        """Everything a valid visit carries, checked in at the store's door."""
        return {
            "checkin_location": north_of(STORE_POINT, 20),
            "storefront_photos": [self.photo(username, "storefront.jpg")],
            "shelf_photos": [self.photo(username, "shelf.jpg")],
            "issue_solved": "补齐了冷柜里的 550ml 矿泉水陈列",
            "customer_needs": "店主希望国庆前拿到堆头促销物料",
            "next_follow_up_at": "2030-10-08T02:00:00Z",
        }

    def visit(
        self, username: str, store: dict[str, Any], day: dt.date | None = None, **data: Any
    ) -> dict[str, Any]:
        return self.create(
            username,
            "visit",
            store=store["id"],
            planned_date=(day or today()).isoformat(),
            **data,
        )


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shop(sales_org: SalesOrg) -> StoreSales:
    """The store sales app installed in the org (``shop.create("rep1", "visit", ...)``)."""
    sales_org.install(APP)
    return StoreSales(sales_org)
