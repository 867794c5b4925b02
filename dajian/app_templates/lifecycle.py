"""Uninstalling apps: archive (keep the data) or purge (delete it), all or nothing.

Archiving hides the app from ``apps``, unpublishes its automations (their schedules go
with them) and keeps every record and document; installing the template again brings it
back with its records. Purging deletes the app's records (with their stage history,
approvals, tasks and duplicate keys), its forms, documents and versions, and the record
indexes its forms created.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from dajian.app_templates.installer import require_admin, unpublish_document
from dajian.builder.models import App, Form, Metadata, MetadataKind
from dajian.platform.actors import Actor
from dajian.platform.audit import format_utc, record_event
from dajian.platform.errors import not_found
from dajian.runtime.models import Record
from dajian.runtime.models.facts import RecordFact


@transaction.atomic
def uninstall_app(actor: Actor, app_key: str, *, purge: bool = False) -> App | None:
    """Archive ``app_key`` (returns the archived app; archiving twice changes nothing)
    or, with ``purge``, delete it and all its data (returns None). Admins only;
    ``NOT_FOUND`` for an unknown app (archived apps included)."""
    require_admin(actor)
    app = App.objects.select_for_update().filter(workspace=actor.workspace, key=app_key).first()
    if app is None:
        raise not_found("App")
    stopped = _stop_automations(actor, app)
    if purge:
        _purge(actor, app)
        return None
    if app.archived_at is None:
        app.archived_at = timezone.now()
        app.save(update_fields=["archived_at"])
        record_event(
            actor,
            "app.archived",
            "App",
            app.pk,
            {"archived_at": [None, format_utc(app.archived_at)], "automations": stopped},
        )
    return app


def _stop_automations(actor: Actor, app: App) -> list[str]:
    keys = list(
        Metadata.objects.filter(
            app=app, kind=MetadataKind.AUTOMATION, published__isnull=False
        ).values_list("key", flat=True)
    )
    for key in keys:
        unpublish_document(actor, app, MetadataKind.AUTOMATION, key)
    return keys


def _purge(actor: Actor, app: App) -> None:
    form_ids = list(Form.objects.filter(app=app).values_list("pk", flat=True))
    records = Record.objects.filter(form_id__in=form_ids)
    count = records.count()
    records.delete()  # cascades: stage entries, approvals, tasks, dedupe keys, claims
    RecordFact.objects.filter(form_id__in=form_ids).delete()  # no foreign key to cascade
    # Versions are protected while something points at them; nothing will once the
    # app goes, so the pointers are cleared first.
    Form.objects.filter(app=app).update(published=None, workflow=None)
    Metadata.objects.filter(app=app).update(published=None)
    _drop_record_indexes(form_ids)
    key, pk = app.key, app.pk
    app.delete()
    record_event(actor, "app.purged", "App", pk, {"key": [key, None], "records": [count, 0]})


def _drop_record_indexes(form_ids: list[int]) -> None:
    """Drop the expression indexes the forms' publishes created (``rx_<form>_…``)."""
    if not form_ids:
        return
    prefixes = tuple(f"rx_{pk}_" for pk in form_ids)
    table = Record._meta.db_table
    with connection.cursor() as cursor:
        names = connection.introspection.get_constraints(cursor, table)
        for name, info in names.items():
            if not name.startswith(prefixes):
                continue
            quoted = connection.ops.quote_name(name)
            if info.get("unique") and connection.vendor == "postgresql" and not info.get("index"):
                cursor.execute(
                    f"ALTER TABLE {connection.ops.quote_name(table)} DROP CONSTRAINT {quoted}"
                )
            else:
                cursor.execute(f"DROP INDEX {quoted}")
