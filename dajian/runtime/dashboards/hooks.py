"""What the runtime adds to the builder for dashboards (registered in
``RuntimeConfig.ready`` through :func:`register`):

- publishing a dashboard promotes the fields its widgets read, form by form
  (:func:`dajian.runtime.dashboards.facts.promote`), so their aggregates read typed
  columns (PostgreSQL; nothing on SQLite). A form with more fields than promotion slots
  is left as it was: its widgets read the records, with the same figures, slower;
- the filter operator ``{"field": "stage", "op": "entered", "value": <stage>}`` (the
  record has been in that stage), which the drill-down of ``avg_stage_hours`` uses and
  only the runtime's stage history can answer;
- the automation checker also checks that the dashboards (and widgets) its
  ``push_dashboard`` actions name exist in the app, which an action's own check cannot
  see (it has no app in hand). :func:`register` runs after the automation checker is
  registered, and wraps it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from dajian.builder.filters import register_system_op
from dajian.builder.metadata.checks_dashboard import dashboard_forms
from dajian.builder.models import MetadataKind
from dajian.builder.services import publish_hooks
from dajian.platform.errors import CommonErrorCode, DajianError
from dajian.runtime.dashboards import facts
from dajian.runtime.dashboards.usage import fields_by_form
from dajian.runtime.models import StageEntry
from dajian.runtime.policies import definition_of

logger = logging.getLogger(__name__)


def entered_stage(stage: str) -> Q:
    """Records with a stay in ``stage`` in their history (current or past)."""
    return Q(Exists(StageEntry.objects.filter(record_id=OuterRef("pk"), stage=stage)))


def on_dashboard_published(actor: Any, meta: Any, version: Any) -> None:
    """Promote, per form, the fields the published version's widgets read."""
    if meta.kind != MetadataKind.DASHBOARD:
        return
    forms = dashboard_forms(meta.app, version.definition)
    definitions = {key: definition_of(form) for key, form in forms.items()}
    wanted = fields_by_form(
        version.definition, {k: d for k, d in definitions.items() if d is not None}
    )
    for key, fields in sorted(wanted.items()):
        try:
            with transaction.atomic():
                facts.promote(forms[key], sorted(fields))
        except DajianError as exc:
            if any(e.code != CommonErrorCode.LIMIT_EXCEEDED for e in exc.errors):
                raise
            logger.warning("dashboard %s: form %s keeps reading records (%s)", meta.key, key, exc)


def check_automation(actor: Any, form: Any, document: Any) -> list[Any]:
    """The automation checks, then the dashboards ``push_dashboard`` actions name."""
    from dajian.runtime.automations import checks
    from dajian.runtime.automations.actions.push_dashboard import check_dashboard_refs

    return [*checks.check_automation(actor, form, document), *check_dashboard_refs(form, document)]


def register() -> None:
    publish_hooks.register_metadata_hook(on_dashboard_published)
    publish_hooks.register_metadata_checker(MetadataKind.AUTOMATION, check_automation)
    register_system_op("stage", "entered", entered_stage)
