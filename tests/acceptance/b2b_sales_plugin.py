"""The ``b2b_sales`` template installed in the ``sales_org`` workspace, and the steps its
people take through GraphQL (``tests/acceptance/test_b2b_sales_*.py`` load this module
with ``pytest_plugins``).

Every step is a GraphQL call as a member of the org (``rep1``, ``supervisor``,
``finance``...); the steps both templates take are in :mod:`tests.acceptance.steps`. Time
moves only through the entry points that take ``now=`` (timers, date scans, schedules).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from tests.acceptance.conftest import SalesOrg
from tests.acceptance.steps import ERRORS, AppSteps, create_mutation, update_mutation
from tests.automation_helpers import drain_outbox

APP = "b2b_sales"
RECORD_FIELDS = """
  id form stage status flags version data
  owner { username }
"""
INSTALL = """
mutation($sample: Boolean, $records: Int) {
  installTemplate(input: {key: "b2b_sales", sampleData: $sample, records: $records}) {
    report { action records }
    errors { field path code message }
  }
}
"""
CREATE = create_mutation(RECORD_FIELDS, "warnings { field code message }")
UPDATE = update_mutation(RECORD_FIELDS)
ADVANCE = f"""
mutation($id: ID!, $to: String!, $reason: String) {{
  advanceStage(input: {{id: $id, to: $to, reason: $reason}}) {{
    record {{ {RECORD_FIELDS} }}
    request {{ id status }}
    {ERRORS}
  }}
}}
"""
RECORD = f"""
query($id: ID!) {{
  record(id: $id) {{
    {RECORD_FIELDS}
    stageTiming {{ enteredAt level warningAt overdueAt }}
    approval {{
      id status
      steps {{ key applies active tasks {{ assignee {{ username }} status decision }} }}
    }}
  }}
}}
"""
RECORDS = f"""
query($app: String!, $form: String!, $filter: GenericScalar) {{
  records(app: $app, form: $form, filter: $filter, first: 100) {{
    edges {{ node {{ {RECORD_FIELDS} }} }}
  }}
}}
"""
TASKS = """
query($kind: TaskKind) {
  myTasks(kind: $kind, first: 100) {
    edges { node { id kind status title message record { id form } step { key } } }
  }
}
"""
DECIDE = f"""
mutation($task: ID!, $decision: ApprovalDecision!, $comment: String) {{
  decideTask(input: {{taskId: $task, decision: $decision, comment: $comment}}) {{
    request {{ id status record {{ stage status }} }}
    {ERRORS}
  }}
}}
"""

_codes = itertools.count(1)


def credit_code() -> str:
    """A unified social credit code no other test record uses (18 characters)."""
    return f"91310000MA1K{next(_codes):05d}X"


@dataclass
class B2BSales(AppSteps):
    """The installed app, driven through GraphQL as the org's members."""

    APP = APP
    CREATE = CREATE
    UPDATE = UPDATE
    RECORD = RECORD
    TASKS = TASKS

    # --- records -----------------------------------------------------------------------
    def advance(
        self, username: str, record_id: str, to: str, reason: str | None = None
    ) -> dict[str, Any]:
        result = self.call(username, ADVANCE, id=record_id, to=to, reason=reason)["advanceStage"]
        drain_outbox()
        return result  # type: ignore[no-any-return]

    def records(
        self, username: str, form: str, filter: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        data = self.call(username, RECORDS, app=APP, form=form, filter=filter)
        return [edge["node"] for edge in data["records"]["edges"]]

    def titles(self, username: str, form: str, key: str = "name") -> list[str]:
        return sorted(r["data"][key] for r in self.records(username, form))

    def upload(self, username: str, name: str = "proposal.pdf") -> int:
        """Upload a small PDF as ``username``; returns the attachment id."""
        body = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
        return self.upload_file(username, name, body, "application/pdf")

    # --- inbox -------------------------------------------------------------------------
    def decide(
        self, username: str, record_id: str, decision: str, comment: str | None = None
    ) -> dict[str, Any]:
        """``username`` decides their open approval task on the record."""
        (task,) = [t for t in self.tasks(username) if t["record"]["id"] == record_id]
        result = self.call(username, DECIDE, task=task["id"], decision=decision, comment=comment)
        drain_outbox()
        assert result["decideTask"]["errors"] == [], result["decideTask"]["errors"]
        return result["decideTask"]["request"]  # type: ignore[no-any-return]

    # --- business steps ----------------------------------------------------------------
    def customer(
        self, username: str, name: str, city: str = "苏州", level: str = "B", **data: Any
    ) -> dict[str, Any]:
        return self.create(
            username,
            "customer",
            name=name,
            city=city,
            level=level,
            credit_code=data.pop("credit_code", None) or credit_code(),
            **data,
        )

    def contract(
        self, username: str, customer: dict[str, Any], amount: float, **data: Any
    ) -> dict[str, Any]:
        data.setdefault("title", f"{customer['data']['name']} 设备采购合同")
        data.setdefault("payment_terms", "预付 30%，到货 60%，验收 10%")
        return self.create(username, "contract", customer=customer["id"], amount=amount, **data)

    def submit(self, username: str, contract: dict[str, Any]) -> dict[str, Any]:
        """Submit the contract for approval (the draft → approved transition)."""
        result = self.advance(username, contract["id"], "approved")
        assert result["errors"] == [], result["errors"]
        assert result["request"]["status"] == "PENDING"
        return result

    def approve_all(self, contract: dict[str, Any]) -> None:
        """Every approver in turn approves until the request is decided."""
        for approver in ("supervisor", "supervisor2", "director", "product", "finance"):
            if any(t["record"]["id"] == contract["id"] for t in self.tasks(approver)):
                self.decide(approver, contract["id"], "APPROVE")
        record = self.record("admin", contract["id"])
        assert record is not None and record["stage"] == "approved", record


def install_b2b(org: SalesOrg, records: int | None = None) -> dict[str, Any]:
    """Install the template as the workspace admin with the ``installTemplate`` mutation
    (with ``records`` sample records when given); returns the install report."""
    result = org.call("admin", INSTALL, sample=records is not None, records=records)
    outcome = result["installTemplate"]
    assert outcome["errors"] == [], outcome["errors"]
    return outcome["report"]  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Any) -> None:
    """Uploads of these tests go to a temporary directory."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def b2b(sales_org: SalesOrg) -> B2BSales:
    install_b2b(sales_org)
    return B2BSales(sales_org)
