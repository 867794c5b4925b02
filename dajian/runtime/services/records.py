"""Record writes: create, update, delete.

Every write checks the actor's permission through ``Record.objects.permitted``,
validates with JSON Schema + CEL (all errors at once), writes an audit event and an
outbox event in the same transaction, and either fully happens or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from dajian.builder.definitions import FormDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.audit import diff_values, record_event
from dajian.platform.errors import DajianError, ErrorDetail, not_found, permission_denied
from dajian.platform.i18n import localize
from dajian.platform.permissions import Action
from dajian.platform.sql import insert_row
from dajian.runtime.automations.context import current_depth
from dajian.runtime.dedupe import DedupeKey, dedupe_keys
from dajian.runtime.errors import RecordErrorCode, message
from dajian.runtime.models import OutboxEvent, Record, RecordDedupeKey
from dajian.runtime.policies import definition_of, policy_for
from dajian.runtime.services.indexes import index_name
from dajian.runtime.stages.initial import enter_initial_stage, stage_before_insert
from dajian.runtime.validation import WriteContext, record_system_values, validate_record

logger = logging.getLogger(__name__)
POSSIBLE_DUPLICATE = "possible_duplicate"
_RECORD_COLUMNS = tuple(f for f in Record._meta.concrete_fields if not f.primary_key)


@dataclass
class WriteResult:
    record: Record
    created: bool = True
    warnings: list[ErrorDetail] = field(default_factory=list)


def get_form_for_write(actor: Actor, app_key: str, form_key: str) -> tuple[Form, FormDefinition]:
    forms = list(  # [:1], not first(): no ORDER BY needed for a unique key
        Form.objects.select_related("published", "app", "workflow")
        .defer("draft", "published__definition", "workflow__definition")
        .filter(workspace=actor.workspace, app__key=app_key, key=form_key)[:1]
    )
    form = forms[0] if forms else None
    if form is None:
        raise not_found("Form")
    definition = definition_of(form)
    if definition is None:
        raise DajianError.single(
            RecordErrorCode.FORM_NOT_PUBLISHED, message(RecordErrorCode.FORM_NOT_PUBLISHED)
        )
    return form, definition


def create_record(
    actor: Actor,
    app_key: str,
    form_key: str,
    data: Mapping[str, Any],
    idempotency_key: str | None = None,
    owner_id: int | None = None,
) -> WriteResult:
    """Create a record; a repeated ``idempotency_key`` returns the first record. The
    owner is the creator; the system (automations, which act for nobody) may name another
    with ``owner_id``, which the caller has checked is an active member."""
    if owner_id is not None and actor.user is not None:
        raise permission_denied()
    form, definition = get_form_for_write(actor, app_key, form_key)
    policy = policy_for(actor, form)
    if not policy.can_create:
        raise permission_denied()
    if idempotency_key:
        earlier = _by_idempotency_key(actor, form, idempotency_key)
        if earlier is not None:
            return WriteResult(record=earlier, created=False)
    try:
        with transaction.atomic():
            return _create(actor, form, definition, policy, data, idempotency_key, owner_id)
    except IntegrityError as exc:
        if idempotency_key and "idempotency" in str(exc):
            earlier = _by_idempotency_key(actor, form, idempotency_key)
            if earlier is not None:
                return WriteResult(record=earlier, created=False)
        raise _integrity_error(exc, form, definition) from None


def _by_idempotency_key(actor: Actor, form: Form, key: str) -> Record | None:
    earlier = Record.objects.filter(
        workspace=actor.workspace, created_by=actor.user, idempotency_key=key
    ).first()
    if earlier is not None and earlier.form_id != form.pk:
        raise DajianError.single(
            RecordErrorCode.IDEMPOTENCY_CONFLICT,
            message(RecordErrorCode.IDEMPOTENCY_CONFLICT),
            field="idempotencyKey",
        )
    return earlier


def _create(actor, form, definition, policy, data, idempotency_key, owner_id=None) -> WriteResult:  # type: ignore[no-untyped-def]
    now = timezone.now()
    record = Record(
        workspace=actor.workspace,
        form=form,
        form_version=form.published,
        owner_id=owner_id if owner_id is not None else actor.user_id,
        created_by=actor.user,
        updated_by=actor.user,
        created_at=now,
        updated_at=now,
        idempotency_key=idempotency_key or None,
    )
    workflow = stage_before_insert(record, now)  # the initial stage, if the form has stages
    ctx = WriteContext(
        actor=actor,
        definition=definition,
        policy=policy,
        now=now,
        app_id=form.app_id,
        record_system=record_system_values(record),
    )
    validated = validate_record(ctx, data)
    for key, field_type in definition.field_types.items():
        if field_type.type == "autonumber":
            from dajian.builder.services.autonumber import next_number

            number = next_number(form.pk, key, field_type.period(now))  # type: ignore[attr-defined]
            validated.data[key] = field_type.format(number, now)  # type: ignore[attr-defined]
    keys = dedupe_keys(definition, validated.data)
    warnings = _check_duplicates(form, keys, exclude_id=None)
    record.data = validated.data
    record.flags = validated.flags + ([POSSIBLE_DUPLICATE] if warnings else [])
    record.pk = insert_row(Record, {f.attname: getattr(record, f.attname) for f in _RECORD_COLUMNS})
    record._state.adding = False
    if workflow is not None:
        enter_initial_stage(actor, record, now, workflow)
    _save_dedupe_keys(record, keys, replace=False)
    # The audit append locks the workspace's chain head until commit: it goes last.
    emit_event(actor, "record.created", record)
    record_event(actor, "record.created", "Record", str(record.pk), diff_values({}, record.data))
    return WriteResult(record=record, created=True, warnings=warnings)


def _check_duplicates(
    form: Form, keys: list[DedupeKey], exclude_id: int | None
) -> list[ErrorDetail]:
    """Refuse on a blocking match; return warnings for warning matches."""
    if not keys:
        return []
    matches = RecordDedupeKey.objects.filter(form=form, key_hash__in=[k.key_hash for k in keys])
    if exclude_id is not None:
        matches = matches.exclude(record_id=exclude_id)
    hit = {(m.rule, m.key_hash) for m in matches.only("rule", "key_hash")}
    errors: list[ErrorDetail] = []
    warnings: list[ErrorDetail] = []
    for key in keys:
        if (key.rule, key.key_hash) not in hit:
            continue
        text = localize(key.message) if key.message else message(RecordErrorCode.DUPLICATE_RECORD)
        details = [
            ErrorDetail(code=RecordErrorCode.DUPLICATE_RECORD, message=text, field=f, path=f)
            for f in key.fields
        ]
        (errors if key.blocking else warnings).extend(details)
    if errors:
        raise DajianError(errors)
    return warnings


def _save_dedupe_keys(record: Record, keys: list[DedupeKey], replace: bool) -> None:
    if replace:
        RecordDedupeKey.objects.filter(record=record).delete()
    if not keys:
        return
    RecordDedupeKey.objects.bulk_create(
        RecordDedupeKey(
            record=record,
            form_id=record.form_id,
            rule=k.rule,
            key_hash=k.key_hash,
            blocking=k.blocking,
        )
        for k in keys
    )


def _integrity_error(exc: IntegrityError, form: Form, definition: FormDefinition) -> DajianError:
    """Turn a unique-index violation into the field's DUPLICATE_VALUE error."""
    text = str(exc)
    for f in definition.fields:
        if f.get("unique") and index_name(form.pk, f["key"], "u") in text:
            return DajianError.single(
                RecordErrorCode.DUPLICATE_VALUE,
                message(RecordErrorCode.DUPLICATE_VALUE),
                field=f["key"],
            )
    if "dedupe" in text:
        return DajianError.single(
            RecordErrorCode.DUPLICATE_RECORD, message(RecordErrorCode.DUPLICATE_RECORD)
        )
    logger.exception("unexpected integrity error", exc_info=exc)
    return DajianError.single("CONFLICT", "The change conflicts with existing data.")


def emit_event(actor: Actor, topic: str, record: Record, **extra: Any) -> None:
    """Write the outbox event now; enqueue its id only once the transaction commits."""
    depth = current_depth()
    if depth:
        extra["depth"] = depth  # written by an automation: loop protection counts it
    event_id = insert_row(
        OutboxEvent,
        {
            "workspace_id": actor.workspace.pk,
            "topic": topic,
            "payload": {
                "record": record.pk,
                "form": record.form_id,
                "version": record.version,
                **extra,
            },
            "created_at": timezone.now(),
            "processed_at": None,
            "attempts": 0,
        },
    )
    transaction.on_commit(lambda: _enqueue(event_id))


def _enqueue(event_id: int) -> None:
    from dajian.runtime.tasks import process_outbox_event

    try:
        process_outbox_event.delay(event_id)
    except Exception:  # noqa: BLE001 - the sweeper retries events left pending
        logger.warning("could not enqueue outbox event %s; the sweeper will", event_id)


def locked_record(actor: Actor, record_id: int, action: Action) -> tuple[Record, Form]:
    """The record locked for writing, or NOT_FOUND / PERMISSION_DENIED."""
    row = (
        Record.objects.filter(workspace=actor.workspace, pk=record_id)
        .select_related("form__published", "form__app")
        .defer("data", "flags", "form__draft", "form__published__definition")
        .first()
    )
    if row is None:
        raise not_found("Record")
    form = row.form
    record = (
        Record.objects.permitted(actor, form, action)
        .select_for_update(of=("self",))
        .filter(pk=record_id)
        .first()
    )
    if record is None:
        if Record.objects.permitted(actor, form, Action.READ).filter(pk=record_id).exists():
            raise permission_denied()
        raise not_found("Record")
    return record, form


def update_record(
    actor: Actor, record_id: int, data: Mapping[str, Any], expected_version: int | None = None
) -> WriteResult:
    """Apply a partial update (keys given replace, ``null`` clears)."""
    try:
        with transaction.atomic():
            record, form = locked_record(actor, record_id, Action.UPDATE)
            if expected_version is not None and expected_version != record.version:
                raise DajianError.single(
                    RecordErrorCode.STALE_VERSION,
                    message(RecordErrorCode.STALE_VERSION, current=record.version),
                    field="expectedVersion",
                )
            from dajian.runtime.approvals.services import guard_pending_edit, reroute_after_edit

            reroute = guard_pending_edit(actor, record)  # APPROVAL_PENDING / RECORD_FROZEN
            definition = definition_of(form)
            assert definition is not None
            now = timezone.now()
            ctx = WriteContext(
                actor=actor,
                definition=definition,
                policy=policy_for(actor, form),
                now=now,
                app_id=form.app_id,
                existing_data=record.data,
                record_system=record_system_values(record),
            )
            validated = validate_record(ctx, data)
            keys = dedupe_keys(definition, validated.data)
            warnings = _check_duplicates(form, keys, exclude_id=record.pk)
            before = record.data
            flags = [f for f in record.flags if f not in _rule_flags(definition)]
            flags = [f for f in flags if f != POSSIBLE_DUPLICATE]
            record.data = validated.data
            record.flags = sorted(
                set(flags + validated.flags + ([POSSIBLE_DUPLICATE] if warnings else []))
            )
            assert form.published is not None
            record.form_version = form.published
            record.version += 1
            record.updated_at = now
            record.updated_by = actor.user
            record.save()
            _save_dedupe_keys(record, keys, replace=True)
            if reroute:
                record.form = form
                reroute_after_edit(actor, record)
            emit_event(actor, "record.updated", record, changed=sorted(validated.changed))
            record_event(
                actor, "record.updated", "Record", str(record.pk), diff_values(before, record.data)
            )
            return WriteResult(record=record, created=False, warnings=warnings)
    except IntegrityError as exc:
        row = Record.objects.filter(pk=record_id).select_related("form__published").first()
        definition = definition_of(row.form) if row else None
        if row is None or definition is None:
            raise
        raise _integrity_error(exc, row.form, definition) from None


def _rule_flags(definition: FormDefinition) -> set[str]:
    return {r.flag for r in definition.rules if r.flag}


@transaction.atomic
def delete_record(actor: Actor, record_id: int, expected_version: int | None = None) -> int:
    """Delete a record; its last data stays in the audit log. Returns the deleted id."""
    record, _ = locked_record(actor, record_id, Action.DELETE)
    if expected_version is not None and expected_version != record.version:
        raise DajianError.single(
            RecordErrorCode.STALE_VERSION,
            message(RecordErrorCode.STALE_VERSION, current=record.version),
            field="expectedVersion",
        )
    from dajian.runtime.approvals.services import guard_pending_delete

    guard_pending_delete(actor, record)  # APPROVAL_PENDING / RECORD_FROZEN
    from dajian.runtime.stages.timing import timer_prefix
    from dajian.runtime.timers import cancel_timers

    cancel_timers(timer_prefix(record.pk))  # timers have no foreign key to cascade
    record_event(actor, "record.deleted", "Record", str(record.pk), diff_values(record.data, {}))
    emit_event(actor, "record.deleted", record)
    record.delete()
    return record_id
