"""Record reads. Every read starts from ``Record.objects.permitted`` and returns data
with hidden fields removed and rollups computed in the same SQL query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dajian.builder.definitions import FormDefinition
from dajian.builder.filters import compile_filter
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, ErrorDetail, not_found
from dajian.platform.permissions import Action, FormPolicy, RowScope
from dajian.runtime.models import Record
from dajian.runtime.paging import decode_cursor, encode_cursor
from dajian.runtime.policies import definition_of, policy_for
from dajian.runtime.services.records import get_form_for_write

ROLLUP_PREFIX = "_rollup_"
# Columns of the owner / creator rows a record view never needs.
USER_DEFERRED = tuple(
    f"{rel}__{col}" for rel in ("owner", "created_by") for col in ("password", "last_login")
)
# orderBy names of system columns → model fields (keyset pagination works on these).
SYSTEM_SORTS = {"created_at": "created_at", "updated_at": "updated_at", "id": "id"}


@dataclass
class RecordView:
    """A record as one actor may see it."""

    record: Record
    definition: FormDefinition
    policy: FormPolicy

    @property
    def data(self) -> dict[str, Any]:
        return visible_data(self.record, self.definition, self.policy)


@dataclass
class RecordPage:
    items: list[RecordView]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    end_cursor: str | None
    start_cursor: str | None
    queryset: QuerySet[Record]


def visible_data(record: Record, definition: FormDefinition, policy: FormPolicy) -> dict[str, Any]:
    """Stored values in API form plus rollups, without the fields the policy hides."""
    out: dict[str, Any] = {}
    hidden = policy.hidden_fields
    for key, field_type in definition.field_types.items():
        if key in hidden:
            continue
        if field_type.stored:
            value = record.data.get(key)
            if value is not None:
                out[key] = field_type.to_api(value)
        elif hasattr(record, ROLLUP_PREFIX + key):
            value = getattr(record, ROLLUP_PREFIX + key)
            if value is not None:
                out[key] = field_type.to_api(value)
    return out


def with_rollups(
    qs: QuerySet[Record], form: Form, definition: FormDefinition, now: Any = None
) -> QuerySet[Record]:
    """Annotate every rollup field of ``definition`` (one correlated subquery each);
    time windows end at ``now`` (default: the current time)."""
    rollups = {k: t for k, t in definition.field_types.items() if t.type == "rollup"}
    if not rollups:
        return qs
    sources = {t.definition["source"]["form"] for t in rollups.values()}
    forms = {
        f.key: f
        for f in Form.objects.select_related("published").filter(
            app_id=form.app_id, key__in=sources
        )
    }
    now = now or timezone.now()
    annotations = {}
    for key, field_type in rollups.items():
        source = forms.get(field_type.definition["source"]["form"])
        source_definition = definition_of(source) if source else None
        if source is None or source_definition is None:
            continue
        annotations[ROLLUP_PREFIX + key] = field_type.annotation(  # type: ignore[attr-defined]
            record_model=Record,
            source_form_id=source.pk,
            source_definition=source_definition.raw,
            now=now,
        )
    return qs.annotate(**annotations)


def get_record(actor: Actor, record_id: int) -> RecordView:
    """A record the actor may read, else NOT_FOUND (also for other workspaces' ids)."""
    row = (
        Record.objects.filter(workspace=actor.workspace, pk=record_id)
        .select_related("form__published", "form__app")
        .defer("data", "flags", "form__draft", "form__published__definition")
        .first()
    )
    if row is None:
        raise not_found("Record")
    form = row.form
    definition = definition_of(form)
    if definition is None:
        raise not_found("Record")
    qs = with_rollups(Record.objects.permitted(actor, form, Action.READ), form, definition)
    record = (
        qs.select_related("owner", "created_by").defer(*USER_DEFERRED).filter(pk=record_id).first()
    )
    if record is None:
        raise not_found("Record")
    record.form = form
    return RecordView(record, definition, policy_for(actor, form))


def view_after_write(actor: Actor, record: Record, form: Form) -> RecordView | None:
    """The record just written, as the writer may see it (None if they may not read it).

    Built from the row in memory when no query is needed (the common case: no rollups,
    and the writer's read scope reaches the record); otherwise read back like any read.
    """
    definition = definition_of(form)
    if definition is None:
        return None
    policy = policy_for(actor, form)
    scopes = policy.scopes[Action.READ]
    reachable = RowScope.ALL in scopes or (
        record.owner_id == actor.user_id and bool(scopes - {RowScope.NONE})
    )
    if reachable and not any(t.type == "rollup" for t in definition.field_types.values()):
        record.form = form
        return RecordView(record, definition, policy)
    try:
        return get_record(actor, record.pk)
    except DajianError:
        return None


def _order(definition: FormDefinition, policy: FormPolicy, order_by: Sequence[str] | None):  # type: ignore[no-untyped-def]
    """``(order expressions, keyset columns or None)``; keyset only for system sorts."""
    names = list(order_by or ["-created_at"])
    errors, exprs, keyset = [], [], []
    for i, name in enumerate(names[:3]):
        desc = name.startswith("-")
        key = name.lstrip("-")
        if key in SYSTEM_SORTS:
            column = SYSTEM_SORTS[key]
            exprs.append(F(column).desc() if desc else F(column).asc())
            keyset.append((column, desc))
            continue
        field_type = definition.field_types.get(key)
        if field_type is None or key in policy.hidden_fields or not field_type.can_sort:
            errors.append(
                ErrorDetail(
                    code="INVALID_SORT",
                    message=f"Cannot sort by {key!r}.",
                    field="orderBy",
                    path=f"orderBy.{i}",
                )
            )
            continue
        expr = field_type.sort_expression()
        exprs.append(expr.desc(nulls_last=True) if desc else expr.asc(nulls_last=True))
        keyset = None  # type: ignore[assignment]
    if errors:
        raise DajianError(errors)
    if keyset is not None and all(c != "id" for c, _ in keyset):
        desc = keyset[-1][1]
        exprs.append(F("id").desc() if desc else F("id").asc())
        keyset.append(("id", desc))
    elif keyset is None:
        exprs.append(F("id").desc())
    return exprs, keyset


def _keyset_after(keyset: list[tuple[str, bool]], values: list[Any]) -> Q:
    if len(values) != len(keyset):
        raise DajianError.single("INVALID_CURSOR", "The cursor is not valid.", field="after")
    parsed = []
    for (column, _), value in zip(keyset, values, strict=True):
        if column in ("created_at", "updated_at"):
            value = parse_datetime(str(value))
            if value is None:
                raise DajianError.single(
                    "INVALID_CURSOR", "The cursor is not valid.", field="after"
                )
        parsed.append(value)
    condition = Q(pk__in=[])
    for i, (column, desc) in enumerate(keyset):
        step = Q(**{f"{column}__{'lt' if desc else 'gt'}": parsed[i]})
        for j in range(i):
            step &= Q(**{keyset[j][0]: parsed[j]})
        condition |= step
    return condition


def list_records(
    actor: Actor,
    app_key: str,
    form_key: str,
    filter: Mapping[str, Any] | None = None,
    order_by: Sequence[str] | None = None,
    search: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> RecordPage:
    """One page of the records the actor may read, filtered, searched and sorted."""
    form, definition = get_form_for_write(actor, app_key, form_key)
    policy = policy_for(actor, form)
    limit = first if first is not None else 20
    max_page = settings.DAJIAN["MAX_PAGE_SIZE"]
    if limit < 0 or limit > max_page:
        raise DajianError.single(
            "LIMIT_EXCEEDED", f"first must be between 0 and {max_page}.", field="first"
        )
    qs: QuerySet[Record] = Record.objects.permitted(actor, form, Action.READ)
    if filter:
        qs = qs.filter(compile_filter(definition, filter, hidden=policy.hidden_fields))
    if search:
        qs = qs.filter(_search_q(definition, policy, search))
    exprs, keyset = _order(definition, policy, order_by)
    base = qs
    offset = 0
    if after:
        values = decode_cursor(after)
        if keyset is None:
            if not (len(values) == 1 and isinstance(values[0], int) and values[0] >= 0):
                raise DajianError.single(
                    "INVALID_CURSOR", "The cursor is not valid.", field="after"
                )
            offset = values[0]
        else:
            qs = qs.filter(_keyset_after(keyset, values))
    qs = with_rollups(
        qs.order_by(*exprs).select_related("owner", "created_by").defer(*USER_DEFERRED),
        form,
        definition,
    )
    rows = list(qs[offset : offset + limit + 1])
    has_next = len(rows) > limit
    rows = rows[:limit]
    for row in rows:
        row.form = form

    def cursor_of(index: int, row: Record) -> str:
        if keyset is None:
            return encode_cursor([offset + index + 1])
        return encode_cursor([getattr(row, column) for column, _ in keyset])

    cursors = [cursor_of(i, row) for i, row in enumerate(rows)]
    return RecordPage(
        items=[RecordView(r, definition, policy) for r in rows],
        cursors=cursors,
        has_next=has_next,
        has_previous=bool(after),
        end_cursor=cursors[-1] if cursors else None,
        start_cursor=cursors[0] if cursors else None,
        queryset=base,
    )


def _search_q(definition: FormDefinition, policy: FormPolicy, term: str) -> Q:
    term = term.strip()[:100]
    q = Q(pk__in=[])
    for key in definition.search_fields:
        if key in policy.hidden_fields or key not in definition.field_types:
            continue
        q |= Q(**{f"data__{key}__icontains": term})
    return q
