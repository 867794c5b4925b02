"""The GraphQL steps both template plugins (:mod:`tests.acceptance.b2b_sales_plugin`,
:mod:`tests.acceptance.store_sales_plugin`) take: records created, updated and read as a
member of the org, that member's tasks and notifications, and uploads.

Each write step processes the outbox itself (``drain_outbox``), as the worker would a
moment later: unit tests run in one transaction, where the outbox's on-commit hand-off
never fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.acceptance.conftest import SalesOrg
from tests.automation_helpers import drain_outbox

ERRORS = "errors { field path code message }"
NOTIFICATIONS = """
query { myNotifications(first: 100) { edges { node { kind message record { id } } } } }
"""


def create_mutation(record_fields: str, *answers: str) -> str:
    """``createRecord``, answering the record's ``record_fields``, the errors and
    ``answers`` (more fields of the payload)."""
    rest = "\n    ".join((ERRORS, *answers))
    return f"""
mutation($app: String!, $form: String!, $data: GenericScalar!) {{
  createRecord(input: {{app: $app, form: $form, data: $data}}) {{
    record {{ {record_fields} }}
    {rest}
  }}
}}
"""


def update_mutation(record_fields: str) -> str:
    """``updateRecord``, answering the record's ``record_fields`` and the errors."""
    return f"""
mutation($id: ID!, $data: GenericScalar!) {{
  updateRecord(input: {{id: $id, data: $data}}) {{
    record {{ {record_fields} }}
    {ERRORS}
  }}
}}
"""


@dataclass
class AppSteps:
    """An installed app, driven through GraphQL as the org's members. A subclass names
    its app and the queries of its steps."""

    APP: ClassVar[str]
    CREATE: ClassVar[str]
    UPDATE: ClassVar[str]
    RECORD: ClassVar[str]
    TASKS: ClassVar[str]

    org: SalesOrg

    # --- plumbing ----------------------------------------------------------------------
    def call(self, username: str, query: str, **variables: Any) -> dict[str, Any]:
        return self.org.call(username, query, **variables)

    # --- records -----------------------------------------------------------------------
    def try_create(self, username: str, form: str, **data: Any) -> dict[str, Any]:
        variables = {"app": self.APP, "form": form, "data": data}
        result = self.call(username, self.CREATE, **variables)["createRecord"]
        drain_outbox()
        return result  # type: ignore[no-any-return]

    def create(self, username: str, form: str, **data: Any) -> dict[str, Any]:
        result = self.try_create(username, form, **data)
        assert result["errors"] == [], result["errors"]
        return self.written(username, result["record"]["id"], result["record"])

    def try_update(self, username: str, record_id: str, **data: Any) -> dict[str, Any]:
        result = self.call(username, self.UPDATE, id=record_id, data=data)["updateRecord"]
        drain_outbox()
        return result  # type: ignore[no-any-return]

    def update(self, username: str, record_id: str, **data: Any) -> dict[str, Any]:
        result = self.try_update(username, record_id, **data)
        assert result["errors"] == [], result["errors"]
        return self.written(username, record_id, result["record"])

    def written(self, username: str, record_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """What ``create`` and ``update`` return of the record they wrote: here, the
        record as the mutation answered it."""
        return record

    def record(self, username: str, record_id: str) -> dict[str, Any] | None:
        return self.call(username, self.RECORD, id=record_id)["record"]  # type: ignore[no-any-return]

    def upload_file(self, username: str, name: str, body: bytes, content_type: str) -> int:
        """Upload a file as ``username``; returns the attachment id."""
        client = self.org.gql.client
        client.force_login(self.org[username])
        response = client.post(
            "/api/uploads/", {"file": SimpleUploadedFile(name, body, content_type)}
        )
        assert response.status_code == 201, response.content
        return response.json()["attachment"]["id"]  # type: ignore[no-any-return]

    # --- inbox -------------------------------------------------------------------------
    def tasks(self, username: str, kind: str = "APPROVAL") -> list[dict[str, Any]]:
        data = self.call(username, self.TASKS, kind=kind)
        return [edge["node"] for edge in data["myTasks"]["edges"]]

    def notifications(self, username: str) -> list[dict[str, Any]]:
        data = self.call(username, NOTIFICATIONS)
        return [edge["node"] for edge in data["myNotifications"]["edges"]]
