"""What the runtime adds to the builder for dashboards (registered in
``RuntimeConfig.ready`` through :func:`register`):

- publishing a dashboard promotes the fields its widgets read, form by form
  (:func:`dajian.runtime.dashboards.facts.promote`), so their aggregates read typed
  columns (PostgreSQL; nothing on SQLite). A form with more fields than promotion slots
  is left as it was: its widgets read the records, with the same figures, slower;
- republishing a form whose facts exist promotes it again (the fields every published
  dashboard of the app reads on it), so its dashboards keep reading facts after a form
  edit instead of silently falling back to the records' JSON;
- the filter operator ``{"field": "stage", "op": "entered", "value": <stage>}`` (the
  record has been in that stage), which the drill-down of ``avg_stage_hours`` uses and
  only the runtime's stage history can answer;
- the automation checker also checks that the dashboards (and widgets) its
  ``push_dashboard`` actions name exist in the app, which an action's own check cannot
  see (it has no app in hand). :func:`register` runs after the automation checker is
  registered, and wraps it.

Both publish hooks promote **after the publishing transaction commits, each form in a
short transaction of its own** (:func:`promote_on_commit`). A promotion that installs a
trigger locks ``runtime_record`` against writes (``SHARE ROW EXCLUSIVE``) until its
transaction ends; inside the publisher's transaction the lock would last until that
commits — for the template installer, across the sample data it writes next, holding
up every workspace's record writes. On its own it covers the trigger's creation and the
backfill of that one form. Concurrent writes stay correct: the lock is granted only once
every transaction that wrote records has ended, so the backfill (a later statement)
reads all of their records; writers that come meanwhile wait for the promotion's
commit, and then run the new trigger (PostgreSQL reloads a table's triggers when a
statement locks it). Every record is therefore in the backfill or written through the
trigger, and the backfill's upsert and the trigger's compute the same fact.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from dajian.builder.filters import register_system_op
from dajian.builder.metadata.checks_dashboard import dashboard_forms
from dajian.builder.models import Form, MetadataKind, MetadataVersion
from dajian.builder.services import publish_hooks
from dajian.platform.errors import CommonErrorCode, DajianError
from dajian.runtime.dashboards import facts
from dajian.runtime.dashboards.sources import facts_available
from dajian.runtime.dashboards.usage import fields_by_form
from dajian.runtime.models import FormPromotion, StageEntry
from dajian.runtime.policies import definition_of

logger = logging.getLogger(__name__)


def entered_stage(stage: str) -> Q:
    """Records with a stay in ``stage`` in their history (current or past)."""
    return Q(Exists(StageEntry.objects.filter(record_id=OuterRef("pk"), stage=stage)))


def on_dashboard_published(actor: Any, meta: Any, version: Any) -> None:
    """Promote, after commit, each form the published version's widgets read."""
    if meta.kind != MetadataKind.DASHBOARD or not facts_available():
        return
    forms = dashboard_forms(meta.app, version.definition)
    definitions = {key: definition_of(form) for key, form in forms.items()}
    wanted = fields_by_form(
        version.definition, {k: d for k, d in definitions.items() if d is not None}
    )
    for key in sorted(wanted):
        promote_on_commit(forms[key].pk)


def on_form_published(form_version: Any) -> None:
    """Promote, after commit, a republished form whose facts exist (or that a published
    dashboard reads): the new definition may have moved a field to another slot kind,
    and until it is promoted again its dashboards read the records."""
    if not facts_available():
        return
    form = form_version.form
    promoted = FormPromotion.objects.filter(form_id=form.pk).exists()
    if promoted or _dashboard_fields(form):
        promote_on_commit(form.pk)


def promote_on_commit(form_id: int) -> None:
    """Run :func:`promote_for_dashboards` once the current transaction commits (at once
    outside one), in a transaction of its own: see the module docstring. A failure is
    logged; the publish it follows stays committed."""
    transaction.on_commit(lambda: promote_for_dashboards(form_id), robust=True)


def promote_for_dashboards(form_id: int) -> dict[str, str]:
    """Promote the fields every published dashboard of the form's app reads on it (slots
    already assigned stay), in its own transaction; returns the form's columns. A form
    whose fields do not fit the slots keeps its promotion as it was (logged): its widgets
    read the records."""
    form = Form.objects.select_related("published", "app").filter(pk=form_id).first()
    if form is None or definition_of(form) is None:
        return {}
    fields = _dashboard_fields(form)
    if not fields and not FormPromotion.objects.filter(form_id=form_id).exists():
        return {}
    try:
        with transaction.atomic():
            return facts.promote(form, sorted(fields))
    except DajianError as exc:
        if any(e.code not in _KEPT_ON_RECORDS for e in exc.errors):
            raise
        logger.warning("form %s keeps its promotion as it was (%s)", form.key, exc)
        return {}


# Refusals of promote that leave the widgets reading the records (the figures are the
# same): too many fields for the slots, a field gone from the form since the check.
_KEPT_ON_RECORDS = {CommonErrorCode.LIMIT_EXCEEDED, "UNKNOWN_FIELD"}


def _dashboard_fields(form: Form) -> set[str]:
    """The fields of ``form`` the published dashboards of its app read."""
    definition = definition_of(form)
    if definition is None:
        return set()
    versions = MetadataVersion.objects.filter(
        metadata__app_id=form.app_id,
        metadata__kind=MetadataKind.DASHBOARD,
        metadata__published_id=F("pk"),
    ).values_list("definition", flat=True)
    fields: set[str] = set()
    for document in versions:
        fields |= fields_by_form(document, {form.key: definition}).get(form.key, set())
    return fields & set(definition.field_types)


def check_automation(actor: Any, form: Any, document: Any) -> list[Any]:
    """The automation checks, then the dashboards ``push_dashboard`` actions name."""
    from dajian.runtime.automations import checks
    from dajian.runtime.automations.actions.push_dashboard import check_dashboard_refs

    return [*checks.check_automation(actor, form, document), *check_dashboard_refs(form, document)]


def register() -> None:
    publish_hooks.register_metadata_hook(on_dashboard_published)
    publish_hooks.register(on_form_published)
    publish_hooks.register_metadata_checker(MetadataKind.AUTOMATION, check_automation)
    register_system_op("stage", "entered", entered_stage)
