"""Runtime queries (``records``, ``record``, and the parts' queries: stages, approvals,
inbox, dashboards…) and record mutations."""

from __future__ import annotations

from typing import Any

import graphene
from graphene.types.generic import GenericScalar

from dajian.builder.fields.base import FieldValueError, parse_ref
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.graphql.base import DajianMutation, Error, current_actor, graphql_error
from dajian.runtime import selectors
from dajian.runtime.graphql.approval_mutations import ApprovalMutation
from dajian.runtime.graphql.approvals import ApprovalQuery
from dajian.runtime.graphql.automations import AutomationLogMutation, AutomationLogQuery
from dajian.runtime.graphql.dashboards import DashboardQuery
from dajian.runtime.graphql.deliveries import DeliveryMutation, DeliveryQuery
from dajian.runtime.graphql.inbox import InboxMutation, InboxQuery
from dajian.runtime.graphql.notifications import NotificationMutation, NotificationQuery
from dajian.runtime.graphql.ownership import OwnershipMutation, OwnershipQuery
from dajian.runtime.graphql.stages import AdvanceStage, StageQuery
from dajian.runtime.graphql.types import RecordConnection, RecordType
from dajian.runtime.services import records as record_service
from dajian.runtime.services.records import WriteResult


def record_pk(global_id: str, field: str = "id") -> int:
    """The record id of a global id; malformed ids read as NOT_FOUND."""
    try:
        return parse_ref(global_id, "Record")
    except FieldValueError:
        raise DajianError.single("NOT_FOUND", "Record not found.", field=field) from None


class RuntimeQuery(
    StageQuery,
    ApprovalQuery,
    InboxQuery,
    NotificationQuery,
    AutomationLogQuery,
    OwnershipQuery,
    DeliveryQuery,
    DashboardQuery,
    graphene.ObjectType,
):
    records = graphene.Field(
        RecordConnection,
        app=graphene.String(required=True),
        form=graphene.String(required=True),
        filter=GenericScalar(description="The JSON filter language (DESIGN §3)."),
        order_by=graphene.List(
            graphene.NonNull(graphene.String),
            description='Field keys or created_at / updated_at / id; "-" for descending.',
        ),
        search=graphene.String(),
        first=graphene.Int(description="Page size, at most 100 (default 20)."),
        after=graphene.String(),
    )
    record = graphene.Field(RecordType, id=graphene.ID(required=True))

    def resolve_records(root: Any, info: Any, app: str, form: str, **kwargs: Any) -> Any:
        actor = current_actor(info)
        try:
            page = selectors.list_records(actor, app, form, **kwargs)
        except DajianError as exc:
            raise graphql_error(exc) from None
        page_ids = [view.record.pk for view in page.items]
        for view in page.items:
            view.record.page_ids = page_ids  # type: ignore[attr-defined]
        return page

    def resolve_record(root: Any, info: Any, id: str) -> Any:
        actor = current_actor(info)
        try:
            return selectors.get_record(actor, record_pk(id))
        except DajianError as exc:
            if exc.errors[0].code == "NOT_FOUND":
                return None
            raise graphql_error(exc) from None


def _payload(cls: type, result: WriteResult, actor: Any) -> Any:
    record = result.record
    view = selectors.view_after_write(actor, record, record.form)
    return cls(record=view, created=result.created, warnings=_errors(result.warnings), errors=[])


def _errors(details: Any) -> list[Error]:
    return [Error(field=e.field, path=e.path, code=e.code, message=e.message) for e in details]


class CreateRecordInput(graphene.InputObjectType):
    app = graphene.String(required=True)
    form = graphene.String(required=True)
    data = GenericScalar(required=True)
    idempotency_key = graphene.String(
        description="Repeat-safe key: the same key returns the record created first."
    )


class CreateRecord(DajianMutation):
    record = graphene.Field(RecordType)
    created = graphene.Boolean(description="False when an idempotency key matched.")
    warnings = graphene.List(graphene.NonNull(Error), required=True)

    extra_list_fields = ("warnings",)

    class Arguments:
        input = CreateRecordInput(required=True)

    class Meta:
        description = "Create a record; every validation problem is returned at once."
        permission = "create on the form"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> CreateRecord:
        key = input.get("idempotency_key")
        if key is not None and (not key or len(key) > 128):
            raise DajianError.single(
                "INVALID_INPUT", "idempotencyKey is 1 to 128 characters.", field="idempotencyKey"
            )
        result = record_service.create_record(actor, input.app, input.form, input.data, key)
        return _payload(cls, result, actor)


class UpdateRecordInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    data = GenericScalar(required=True, description="Keys given replace; null clears.")
    expected_version = graphene.Int(description="Refuse with STALE_VERSION if changed since.")


class UpdateRecord(DajianMutation):
    record = graphene.Field(RecordType)
    created = graphene.Boolean()
    warnings = graphene.List(graphene.NonNull(Error), required=True)

    extra_list_fields = ("warnings",)

    class Arguments:
        input = UpdateRecordInput(required=True)

    class Meta:
        description = "Update a record's fields (partial)."
        permission = "update on the record (row scope)"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> UpdateRecord:
        result = record_service.update_record(
            actor, record_pk(input.id), input.data, input.get("expected_version")
        )
        return _payload(cls, result, actor)


class DeleteRecordInput(graphene.InputObjectType):
    id = graphene.ID(required=True)
    expected_version = graphene.Int()


class DeleteRecord(DajianMutation):
    deleted_id = graphene.ID()

    class Arguments:
        input = DeleteRecordInput(required=True)

    class Meta:
        description = "Delete a record (its data stays in the audit log)."
        permission = "delete on the record (row scope)"
        error_type = Error

    @classmethod
    def perform(cls, root: Any, info: Any, actor: Actor, input: Any) -> DeleteRecord:
        record_service.delete_record(actor, record_pk(input.id), input.get("expected_version"))
        return cls(deleted_id=input.id, errors=[])


class RuntimeMutation(
    ApprovalMutation,
    InboxMutation,
    NotificationMutation,
    AutomationLogMutation,
    OwnershipMutation,
    DeliveryMutation,
    graphene.ObjectType,
):
    create_record = CreateRecord.Field()
    update_record = UpdateRecord.Field()
    delete_record = DeleteRecord.Field()
    advance_stage = AdvanceStage.Field()
