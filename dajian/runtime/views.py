"""A minimal server-rendered home page: what the signed-in member may read.

The React web app replaces it in a later issue; until then ``make run`` shows the demo
data here. Reads go through the same selectors (and permissions) as GraphQL.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dajian.builder.models import App
from dajian.platform.errors import DajianError
from dajian.platform.i18n import localize
from dajian.runtime.policies import definition_of
from dajian.runtime.selectors import list_records

ROWS_PER_FORM = 20
COLUMNS_PER_FORM = 8


@login_required
def home(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if not actor:
        return render(request, "runtime/base.html", status=403)
    apps = []
    for app in App.objects.filter(workspace=actor.workspace).prefetch_related("forms__published"):
        apps.append(
            {
                "key": app.key,
                "name": localize(app.name),
                "forms": [_form_table(actor, app, form) for form in app.forms.all()],
            }
        )
    context = {"actor": actor, "roles": sorted(actor.roles), "apps": apps}
    return render(request, "runtime/home.html", context)


def _form_table(actor: Any, app: App, form: Any) -> dict[str, Any]:
    definition = definition_of(form)
    table: dict[str, Any] = {"key": form.key, "name": form.key, "version": None, "rows": []}
    if definition is None:
        return table
    table["name"] = localize(definition.raw.get("name")) or form.key
    table["version"] = form.published.number
    try:
        page = list_records(actor, app.key, form.key, first=ROWS_PER_FORM)
    except DajianError:
        return table
    visible = (
        [f for f in definition.fields if f["key"] not in page.items[0].policy.hidden_fields]
        if page.items
        else []
    )
    columns = visible[:COLUMNS_PER_FORM]
    table["columns"] = [{"key": f["key"], "label": localize(f["label"])} for f in columns]
    for view in page.items:
        data = view.data
        table["rows"].append(
            {
                "values": [_display(data.get(f["key"])) for f in columns],
                "owner": view.record.owner.get_username() if view.record.owner else "",
                "flags": view.record.flags,
            }
        )
    return table


def _display(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value
