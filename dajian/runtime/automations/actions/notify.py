"""``notify``: an in-app notification to the people a list of recipient specs names.

Per record by default; with ``digest: true`` (meant for scheduled runs) each person gets
ONE notification for the whole run, counting every record that names them and listing
the first 50, so a daily "not updated for 48 hours" list is one message per person, not
one per record (nor one per batch of a large run).

A batch costs a handful of queries whatever its size: recipients are resolved once per
distinct (owner, values of the user fields the specs read), then every notification is
written in one INSERT. The recipient helpers here are shared with ``create_todo``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dajian.builder.metadata.checks_workflow import FormContext, check_recipients
from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message
from dajian.platform.recipients import RecipientContext, resolve_recipients
from dajian.platform.recipients.base import Subject
from dajian.runtime.automations.actions import action
from dajian.runtime.automations.actions.base import ActionType, CheckContext
from dajian.runtime.automations.activation import load_targets, with_rollup_values
from dajian.runtime.automations.context import Outcome, RunContext, Target
from dajian.runtime.automations.templates import check_template, render, uses
from dajian.runtime.models import ActionExecution, ExecutionStatus, Notification, Record

KIND = "automation"
DIGEST_KIND = "automation.digest"
# What a digest template may use: the records (each with its fields, record, related,
# url...), their number and the time of the run.
DIGEST_NAMES = frozenset({"records", "count", "now"})
# Records a digest's template can list (``records``); ``count`` counts them all.
DIGEST_LISTED = 50

TEMPLATE_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 4000},
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z]{2}(-[A-Z]{2})?$"},
            "additionalProperties": {"type": "string", "maxLength": 4000},
        },
    ]
}
RECIPIENTS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "maxItems": 20,
    "items": {"type": "object", "required": ["type"]},
}

MESSAGES = {
    "NO_SUBMITTER": {
        "en": "An automation has no submitter (only approval requests do); name the owner.",
        "zh-CN": "自动化没有提交人（只有审批申请才有），请改用记录负责人。",
    }
}


# --- recipients (shared with create_todo) -------------------------------------------------


def check_recipient_list(
    specs: Sequence[Mapping[str, Any]], path: str, ctx: CheckContext
) -> list[ErrorDetail]:
    """Each spec at ``<path>.<i>`` through the recipients registry (unknown roles, users
    who are not members, fields that are not user fields...), and no ``submitter``:
    an automation acts on a record, not on an approval request."""
    form_ctx = FormContext(
        form_key=ctx.form_key,
        fields=ctx.fields,
        role_keys=ctx.role_keys,
        member_usernames=ctx.member_usernames,
    )
    paths = [(f"{path}.{i}", spec) for i, spec in enumerate(specs)]
    errors = check_recipients(paths, form_ctx)
    for where, spec in paths:
        for name in ("type", "of"):
            if spec.get(name) == Subject.SUBMITTER:
                text = format_message(MESSAGES, "NO_SUBMITTER")
                errors.append(ErrorDetail.at(f"{where}.{name}", "NO_SUBMITTER", text))
    return errors


def _data_keys(specs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The record fields the specs read (``field`` specs); the owner is read always."""
    return sorted({s["field"] for s in specs if s.get("type") == "field" and "field" in s})


def recipients_by_target(
    ctx: RunContext, targets: Sequence[Target], specs: Sequence[Mapping[str, Any]]
) -> list[list[int]]:
    """The user ids the specs name for each target, in target order. Targets that agree
    on the owner and on the user fields the specs read share one resolution."""
    keys = _data_keys(specs)
    workspace = ctx.actor.workspace
    resolved: dict[tuple[int | None, str], list[int]] = {}
    out = []
    for target in targets:
        record = target.record
        data = {k: record.data.get(k) for k in keys}
        group = (record.owner_id, json.dumps(data, sort_keys=True, default=str))
        if group not in resolved:
            recipient_ctx = RecipientContext(
                workspace=workspace, owner_id=record.owner_id, data=data
            )
            resolved[group] = resolve_recipients(specs, recipient_ctx)
        out.append(resolved[group])
    return out


# --- the action ---------------------------------------------------------------------------


@action
class NotifyAction(ActionType):
    """Spec: ``to`` (recipient specs), ``message`` (a template), ``digest`` (default
    false). Per record: one notification per person, linked to the record, rendered with
    the record's variables. Digest: one per person, ``payload.records`` the ids, the
    message rendered with ``records`` (each record's variables) and ``count``."""

    type = "notify"
    label = {"zh-CN": "发送站内通知", "en": "Send a notification"}
    schema = {
        "type": "object",
        "required": ["type", "to", "message"],
        "additionalProperties": False,
        "properties": {
            "type": {"const": "notify"},
            "to": RECIPIENTS_SCHEMA,
            "message": TEMPLATE_SCHEMA,
            "digest": {"type": "boolean"},
        },
    }

    def check(self, spec: Mapping[str, Any], path: str, ctx: CheckContext) -> list[ErrorDetail]:
        names = DIGEST_NAMES if spec.get("digest") else ctx.names
        errors = check_recipient_list(spec["to"], f"{path}.to", ctx)
        errors.extend(check_template(spec["message"], f"{path}.message", names))
        return errors

    def run(self, ctx: RunContext, targets: Sequence[Target]) -> list[Outcome]:
        recipients = recipients_by_target(ctx, targets, ctx.spec["to"])
        if ctx.spec.get("digest"):
            # the digest itself is written once, when the run finishes
            return [Outcome.done(digest=True, notified=ids) for ids in recipients]
        Notification.objects.bulk_create(self._record_rows(ctx, targets, recipients))
        return [Outcome.done(notified=ids) for ids in recipients]

    def finishes(self, spec: Mapping[str, Any]) -> bool:
        return bool(spec.get("digest"))

    def finish(self, ctx: RunContext) -> Outcome:
        """One digest per person of the whole run: ``count`` is every record the run
        named them for, ``records`` the first :data:`DIGEST_LISTED` of them (by id),
        ``payload.records`` all their ids. Reads the run's executions of this action
        (one query, streamed) and the listed records (one query)."""
        per_person: dict[int, list[int]] = {}
        rows = ActionExecution.objects.filter(
            run=ctx.run, action_index=ctx.index, status=ExecutionStatus.DONE, record_key__gt=0
        ).values_list("record_key", "result")
        for record_key, result in rows.order_by("record_key").iterator(chunk_size=5000):
            for uid in result.get("notified", ()):
                per_person.setdefault(uid, []).append(record_key)
        listed = self._listed(ctx, per_person)
        Notification.objects.bulk_create(
            Notification(
                workspace_id=ctx.automation.workspace_id,
                recipient_id=uid,
                kind=DIGEST_KIND,
                record_id=None,
                message=render(
                    ctx.spec["message"],
                    {
                        "records": [listed[i] for i in ids[:DIGEST_LISTED] if i in listed],
                        "count": len(ids),
                        "now": ctx.now,
                    },
                ),
                payload=self._payload(ctx, records=ids),
                created_at=ctx.now,
            )
            for uid, ids in per_person.items()
        )
        return Outcome.done(digests=len(per_person))

    def _listed(self, ctx: RunContext, per_person: Mapping[int, list[int]]) -> dict[int, Any]:
        """Template variables of the records the digests list (when the template reads
        ``records``), by record id."""
        if not per_person or not uses(ctx.spec["message"], "records"):
            return {}
        wanted = {i for ids in per_person.values() for i in ids[:DIGEST_LISTED]}
        form = ctx.automation.form
        rows = with_rollup_values(
            Record.objects.filter(pk__in=wanted), form, ctx.form_definition, ctx.now
        )
        targets = load_targets(ctx.actor, form, ctx.form_definition, rows, ctx.now)
        return {t.record.pk: t.template_vars for t in targets}

    def _payload(self, ctx: RunContext, **extra: Any) -> dict[str, Any]:
        return {"automation": ctx.automation.source, "action": ctx.index, **extra}

    def _record_rows(
        self, ctx: RunContext, targets: Sequence[Target], recipients: list[list[int]]
    ) -> list[Notification]:
        rows: list[Notification] = []
        workspace_id = ctx.automation.workspace_id
        for target, user_ids in zip(targets, recipients, strict=True):
            if not user_ids:
                continue
            message = render(ctx.spec["message"], target.template_vars)
            rows.extend(
                Notification(
                    workspace_id=workspace_id,
                    recipient_id=uid,
                    kind=KIND,
                    record_id=target.record.pk,
                    message=message,
                    payload=self._payload(ctx),
                    created_at=ctx.now,
                )
                for uid in user_ids
            )
        return rows
