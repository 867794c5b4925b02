"""``update_related``: change the records related to the trigger's record.

E.g. a customer with a payment anomaly freezes its undelivered contracts::

    {"type": "update_related", "form": "contract", "via": "customer",
     "filter": {"field": "delivered", "op": "eq", "value": false},
     "values": {"freeze_reason": "'payment anomaly of ' + name"}, "status": "frozen"}

The related records are those of ``form`` whose relation field ``via`` points at the
record (reverse), or the one record the record's single relation field ``through``
points at; ``filter`` narrows them. One query selects them for the whole batch; at most
:data:`MAX_RELATED` per record (more fails the record for good: narrow the filter).

What is done, per related record, in the record's savepoint (all or nothing per record):
- ``values`` (CEL on the *trigger's* record) go through ``update_record`` as the system
  actor, validated like any write;
- ``status`` ``frozen`` freezes active records and ``active`` lifts the freeze of frozen
  ones, in one locked bulk UPDATE that bumps each row's version, then one outbox event
  (``record.frozen`` / ``record.unfrozen``) and one audit event per changed record.
Records in approval are left alone (listed as ``skipped``): an automation does not
change data under a pending decision, and freezing would strand the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.base import FieldType
from dajian.builder.filters import compile_filter
from dajian.builder.models import Form
from dajian.platform.audit import record_events
from dajian.platform.errors import DajianError, ErrorDetail
from dajian.platform.i18n import format_message
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.actions.create_record import unknown_form
from dajian.runtime.automations.actions.set_fields import (
    VALUES_SCHEMA,
    ValuesError,
    check_values,
    evaluate_values,
)
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.models import Record, RecordStatus
from dajian.runtime.policies import definition_of
from dajian.runtime.services.records import emit_event, update_record

MAX_RELATED = 500
_SELECTED = "update_related.selected"
# status → (the status it changes, the event topic)
_STATUS_CHANGES = {
    RecordStatus.FROZEN: (RecordStatus.ACTIVE, "record.frozen"),
    RecordStatus.ACTIVE: (RecordStatus.FROZEN, "record.unfrozen"),
}


class RelatedErrorCode(StrEnum):
    ONE_LINK = "ONE_LINK"
    NOT_A_RELATION = "NOT_A_RELATION"
    NOTHING_TO_DO = "NOTHING_TO_DO"


MESSAGES = {
    "ONE_LINK": {
        "en": 'Name exactly one of "via" (a relation of the related form to this record) '
        'and "through" (a relation of this record to the related one).',
        "zh-CN": "请在 via（关联表单指向本记录的字段）和 through"
        "（本记录指向关联记录的字段）中二选一。",
    },
    "NOT_A_RELATION": {
        "en": "{key!r} is not a single relation field of {form!r} that points at {target!r}.",
        "zh-CN": "{key} 不是表单 {form} 中指向 {target} 的关联字段。",
    },
    "VIA_NOT_A_RELATION": {
        "en": "{key!r} is not a relation field of {form!r} that points at {target!r}.",
        "zh-CN": "{key} 不是表单 {form} 中指向 {target} 的关联字段。",
    },
    "NOTHING_TO_DO": {
        "en": 'Give "values", "status" or both.',
        "zh-CN": "请至少指定 values 或 status。",
    },
}


def _error(
    path: str, code: RelatedErrorCode, variant: str | None = None, **params: Any
) -> ErrorDetail:
    return ErrorDetail.at(path, code, format_message(MESSAGES, variant or code, **params))


def _relation_to(field_type: FieldType | None, target: str, single: bool) -> bool:
    return (
        field_type is not None
        and field_type.type == "relation"
        and getattr(field_type, "target", None) == target
        and not (single and field_type.definition.get("multiple"))
    )


@action
class UpdateRelatedAction(ActionType):
    """Spec: ``form``, ``via`` or ``through``, optional ``filter``, then ``values``
    and/or ``status`` (see the module docstring)."""

    type = "update_related"
    label = {"zh-CN": "更新关联记录", "en": "Update related records"}
    schema = {
        "type": "object",
        "required": ["type", "form"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "update_related"},
            "form": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
            "via": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
            "through": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"},
            "filter": {"type": "object"},
            "values": VALUES_SCHEMA,
            "status": {"enum": [RecordStatus.FROZEN.value, RecordStatus.ACTIVE.value]},
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        key = spec["form"]
        fields = ctx.forms.get(key)
        if fields is None:
            return [unknown_form(f"{path}.form", key)]
        errors = []
        if ("via" in spec) == ("through" in spec):
            errors.append(_error(f"{path}.via", RelatedErrorCode.ONE_LINK))
        elif "via" in spec and not _relation_to(fields.get(spec["via"]), ctx.form_key, False):
            errors.append(
                _error(
                    f"{path}.via",
                    RelatedErrorCode.NOT_A_RELATION,
                    "VIA_NOT_A_RELATION",
                    key=spec["via"],
                    form=key,
                    target=ctx.form_key,
                )
            )
        elif "through" in spec and not _relation_to(ctx.fields.get(spec["through"]), key, True):
            errors.append(
                _error(
                    f"{path}.through",
                    RelatedErrorCode.NOT_A_RELATION,
                    key=spec["through"],
                    form=ctx.form_key,
                    target=key,
                )
            )
        if spec.get("filter"):
            definition = FormDefinition(
                {"key": key, "fields": [t.definition for t in fields.values()]}
            )
            try:
                compile_filter(definition, spec["filter"], path=f"{path}.filter")
            except DajianError as exc:
                errors.extend(ErrorDetail.at(e.path or path, e.code, e.message) for e in exc.errors)
        if "values" in spec:
            errors.extend(check_values(spec["values"], f"{path}.values", fields, ctx.names))
        if "values" not in spec and "status" not in spec:
            errors.append(_error(path, RelatedErrorCode.NOTHING_TO_DO))
        return errors

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        try:
            ctx.extra[_SELECTED] = _select(ctx, targets)
        except DajianError as exc:  # the related form is gone or the filter no longer fits
            text = "; ".join(f"{e.code} {e.message}" for e in exc.errors)
            return [Outcome.failed(text, retry=False) for _ in targets]
        return super().run(ctx, targets)

    def run_one(self, ctx: RunContext, target: Target) -> Outcome:
        rows: list[tuple[int, str]] = ctx.extra[_SELECTED].get(target.record.pk, [])
        if len(rows) > MAX_RELATED:
            return Outcome.failed(
                f"{len(rows)} related records; at most {MAX_RELATED} are changed at once "
                "(narrow the filter)",
                retry=False,
            )
        skipped = [pk for pk, status in rows if status == RecordStatus.IN_APPROVAL]
        ids = [pk for pk, status in rows if status != RecordStatus.IN_APPROVAL]
        spec = ctx.spec
        updated: list[int] = []
        if "values" in spec and ids:
            fields = _related_form(ctx)[1].field_types
            try:
                data = evaluate_values(spec["values"], target.activation, fields)
            except ValuesError as exc:
                return Outcome.failed(str(exc), retry=False)
            for pk in ids:
                update_record(ctx.actor, pk, data)
            updated = ids
        changed = _change_status(ctx, ids, RecordStatus(spec["status"])) if "status" in spec else []
        return Outcome.done(
            related=len(rows), updated=updated, status_changed=changed, skipped=skipped
        )


def _related_form(ctx: RunContext) -> tuple[Form, FormDefinition]:
    """The related form and its published definition (NOT_FOUND-like refusal when gone)."""
    cached = ctx.extra.get("update_related.form")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    key = ctx.spec["form"]
    form = (
        Form.objects.select_related("published")
        .filter(app_id=ctx.automation.app_id, key=key)
        .first()
    )
    definition = definition_of(form) if form is not None else None
    if form is None or definition is None:
        raise DajianError(unknown_form("form", key))
    ctx.extra["update_related.form"] = (form, definition)
    return form, definition


def _select(ctx: RunContext, targets: Sequence[Target]) -> dict[int, list[tuple[int, str]]]:
    """``{target id: [(related id, status)]}`` for the whole batch, in one query."""
    form, definition = _related_form(ctx)
    spec = ctx.spec
    rows = Record.objects.filter(workspace_id=ctx.automation.workspace_id, form_id=form.pk)
    if spec.get("filter"):
        rows = rows.filter(compile_filter(definition, spec["filter"]))
    out: dict[int, list[tuple[int, str]]] = {t.record.pk: [] for t in targets}
    if "via" in spec:
        via = definition.field_types.get(spec["via"])
        if via is None:
            raise DajianError(ErrorDetail.at("via", "UNKNOWN_FIELD", f"No field {spec['via']!r}."))
        found = rows.filter(via.filter_q("in", list(out))).order_by("pk")
        for pk, status, value in found.values_list("pk", "status", f"data__{via.key}"):
            for target_id in via.ids(value):  # type: ignore[attr-defined]
                if target_id in out:
                    out[target_id].append((pk, status))
        return out
    through = ctx.form_definition.field_types[spec["through"]]
    wanted: dict[int, list[int]] = {}
    for target in targets:
        for related_id in through.ids(target.record.data.get(through.key))[:1]:  # type: ignore[attr-defined]
            wanted.setdefault(related_id, []).append(target.record.pk)
    if wanted:
        for pk, status in rows.filter(pk__in=list(wanted)).values_list("pk", "status"):
            for target_id in wanted[pk]:
                out[target_id].append((pk, status))
    return out


def _change_status(ctx: RunContext, ids: list[int], status: RecordStatus) -> list[int]:
    """Set ``status`` on those of ``ids`` in the status it replaces: locked, one UPDATE,
    then an outbox and an audit event per changed record. Returns the changed ids."""
    if not ids:
        return []
    before, topic = _STATUS_CHANGES[status]
    rows = list(
        Record.objects.select_for_update(of=("self",))
        .filter(Q(pk__in=ids), status=before)
        .only("pk", "workspace_id", "form_id", "version", "status")
        .order_by("pk")
    )
    if not rows:
        return []
    now = timezone.now()
    Record.objects.filter(pk__in=[r.pk for r in rows]).update(
        status=status, version=F("version") + 1, updated_at=now, updated_by=None
    )
    for record in rows:
        record.status = status
        record.version += 1
        emit_event(ctx.actor, topic, record, automation=ctx.automation.source)
    # the audit append locks the chain head until commit: last, and in one go
    change = {"status": [before.value, status.value]}
    record_events(ctx.actor, ((topic, "Record", record.pk, change) for record in rows))
    return [r.pk for r in rows]
