"""Checks that ids in a record's values point at things the actor may use: members of
the workspace, its org units and attachments, and records of the target form that the
actor can read. One query per kind, however many values point there."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from dajian.builder.definitions import FormDefinition
from dajian.builder.fields.base import Reference
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.errors import ErrorDetail
from dajian.platform.models import Attachment, Membership, OrgUnit
from dajian.runtime.errors import RecordErrorCode, message


def _collect(
    definition: FormDefinition, data: Mapping[str, Any], keys: set[str]
) -> list[tuple[str, Reference]]:
    refs: list[tuple[str, Reference]] = []
    for key in keys:
        value = data.get(key)
        if value is None:
            continue
        refs.extend((key, ref) for ref in definition.field_types[key].references(value) if ref.ids)
    return refs


def check_references(
    actor: Actor, app_id: int, definition: FormDefinition, data: Mapping[str, Any], keys: set[str]
) -> list[ErrorDetail]:
    refs = _collect(definition, data, keys)
    if not refs:
        return []
    wanted: dict[tuple[str, str | None], set[int]] = defaultdict(set)
    for _, ref in refs:
        wanted[(ref.kind, ref.target)].update(ref.ids)
    found: dict[tuple[str, str | None], dict[int, str | None]] = {}
    for (kind, target), ids in wanted.items():
        found[(kind, target)] = _existing(actor, app_id, kind, target, ids)
    errors = []
    for key, ref in refs:
        present = found[(ref.kind, ref.target)]
        for ref_id in ref.ids:
            missing = ref_id not in present
            wrong_kind = (
                not missing and ref.accept is not None and present[ref_id] not in ref.accept
            )
            if missing or wrong_kind:
                path = f"{key}.{ref.path}" if ref.path else key
                errors.append(
                    ErrorDetail(
                        code=RecordErrorCode.INVALID_REFERENCE,
                        message=message(RecordErrorCode.INVALID_REFERENCE, id=ref_id),
                        field=key,
                        path=path,
                    )
                )
    return errors


def _existing(
    actor: Actor, app_id: int, kind: str, target: str | None, ids: set[int]
) -> dict[int, str | None]:
    """``{id: attachment kind or None}`` of the ids that exist and may be used."""
    workspace = actor.workspace
    if kind == "user":
        members = Membership.objects.filter(workspace=workspace, user_id__in=ids, is_active=True)
        return dict.fromkeys(members.values_list("user_id", flat=True))
    if kind == "org_unit":
        units = OrgUnit.objects.filter(workspace=workspace, pk__in=ids)
        return dict.fromkeys(units.values_list("pk", flat=True))
    if kind == "attachment":
        files = Attachment.objects.filter(workspace=workspace, pk__in=ids)
        return dict(files.values_list("pk", "kind"))
    if kind == "record":
        from dajian.runtime.models import Record

        form = Form.objects.filter(workspace=workspace, app_id=app_id, key=target).first()
        if form is None:
            return {}
        records = Record.objects.permitted(actor, form).filter(pk__in=ids)
        return dict.fromkeys(records.values_list("pk", flat=True))
    return {}
