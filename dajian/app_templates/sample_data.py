"""Sample data for an installed app: realistic Chinese business records.

:func:`generate` writes ``records`` records over the app's forms, split by the
manifest's ``weights`` (evenly without), in install order so relations find their
targets; a bundle's fixed rows (``sample/<form>.json``: products, scripts…) go first.
Values: :mod:`.sample_values`. Records go through
:func:`~dajian.runtime.services.bulk.bulk_create_records`, so they are validated like
any other (flags where evidence is missing) and written in batches, with audit events
but no outbox events: sample data fires no automations. A generated row refused for a
duplicate (or any other reason) is generated again, a few times at most.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from dajian.app_templates.errors import TemplateErrorCode as Code
from dajian.app_templates.errors import template_error
from dajian.app_templates.ordering import filling_order
from dajian.app_templates.sample_values import SampleValues
from dajian.builder.models import App, Form
from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError, not_found, permission_denied
from dajian.runtime.policies import definition_of
from dajian.runtime.services.bulk import BulkRow, StageVisit, bulk_create_records
from dajian.runtime.stages.definitions import workflow_for

MAX_ROUNDS = 6
DEFAULT_SEED = 2024


def split(total: int, order: Sequence[str], weights: Mapping[str, float] | None) -> dict[str, int]:
    """``total`` shared over the forms of ``order`` in proportion to ``weights`` (forms
    without a weight get none; no weights: equal shares), largest remainders first."""
    shares = (
        {key: float(weights.get(key, 0)) for key in order} if weights else dict.fromkeys(order, 1.0)
    )
    whole = sum(shares.values())
    if total <= 0 or whole <= 0:
        return dict.fromkeys(order, 0)
    exact = {key: total * share / whole for key, share in shares.items()}
    counts = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(order, key=lambda k: (-(exact[k] - counts[k]), order.index(k)))
    for key in by_remainder[: total - sum(counts.values())]:
        counts[key] += 1
    return counts


@transaction.atomic
def generate(
    actor: Actor,
    app_key: str,
    records: int,
    *,
    seed: int = DEFAULT_SEED,
    weights: Mapping[str, float] | None = None,
    fixed: Mapping[str, list[dict[str, Any]]] | None = None,
) -> int:
    """Write ``records`` generated records (plus the ``fixed`` rows) into the app's
    published forms and return how many records were written. Deterministic for a
    seed and workspace. Admins only; all or nothing."""
    if not actor.is_admin:
        raise permission_denied("Only workspace admins generate sample data.")
    app = App.objects.filter(workspace=actor.workspace, key=app_key).first()
    if app is None:
        raise not_found("App")
    forms = {
        f.key: f
        for f in Form.objects.filter(app=app, published__isnull=False).select_related(
            "published", "workflow", "app"
        )
    }
    definitions = {key: definition_of(form) for key, form in forms.items()}
    raw = {key: d.raw for key, d in definitions.items() if d is not None}
    order = filling_order(raw)
    counts = split(records, order, weights)
    values = SampleValues(actor, seed, timezone.now())
    written = 0
    for key in order:
        written += _fill_form(
            actor, app_key, forms[key], values, (fixed or {}).get(key, []), counts[key]
        )
    return written


def _fill_form(
    actor: Actor,
    app_key: str,
    form: Form,
    values: SampleValues,
    fixed: list[dict[str, Any]],
    count: int,
) -> int:
    definition = definition_of(form)
    assert definition is not None
    workflow = workflow_for(form)
    creators = values.creators(definition)
    written = 0
    if fixed:
        start = values.now - dt.timedelta(days=181)
        rows = [
            BulkRow(data=row, owner_id=values.pick(creators), created_at=start) for row in fixed
        ]
        result = bulk_create_records(actor, app_key, form.key, rows, collect_errors=True)
        if result.errors:
            index, errors = next(iter(result.errors.items()))
            raise DajianError(
                template_error(
                    Code.SAMPLE_DATA_FAILED,
                    f"sample/{form.key}.json",
                    f"{index}.{errors[0].path or ''}".rstrip("."),
                    form=form.key,
                    detail=errors[0].message,
                )
            )
        for record in result.records:
            values.remember(form.key, record.pk, record.owner_id, record.data)
        written += len(result.records)

    def make(owner_id: int | None, created_at: Any, stages: list[StageVisit]) -> BulkRow:
        passed = (
            frozenset(
                f for visit in stages[:-1] for f in workflow.stage_map[visit.stage].required_fields
            )
            if workflow is not None
            else frozenset()
        )
        return BulkRow(
            data=values.data(definition, owner_id, creators, passed),
            owner_id=owner_id,
            created_at=created_at,
            updated_at=values.updated(created_at, stages),
            stages=stages,
        )

    moments = sorted(values.moment() for _ in range(count))  # autonumbers follow creation
    pending = [make(values.pick(creators), at, values.path(workflow, at)) for at in moments]
    last_errors: dict[int, Any] = {}
    for _round in range(MAX_ROUNDS):
        if not pending:
            break
        result = bulk_create_records(actor, app_key, form.key, pending, collect_errors=True)
        for record in result.records:
            values.remember(form.key, record.pk, record.owner_id, record.data)
        written += len(result.records)
        last_errors = result.errors
        pending = [
            make(pending[i].owner_id, pending[i].created_at, list(pending[i].stages))
            for i in sorted(result.errors)
        ]
    if pending:
        errors = next(iter(last_errors.values()))
        raise DajianError(
            template_error(
                Code.SAMPLE_DATA_FAILED,
                f"forms/{form.key}.json",
                errors[0].path or "",
                form=form.key,
                detail=f"{errors[0].code}: {errors[0].message}",
            )
        )
    return written
