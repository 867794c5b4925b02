"""Which fields a widget reads: what publishing promotes and what decides whether a
widget can read the promoted facts (every field it reads must be a fact column)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dajian.builder.definitions import FormDefinition
from dajian.builder.metadata.checks_dashboard import filter_fields

# Record columns every fact row carries (org_unit is derived from its owner).
FACT_SYSTEM_FIELDS = frozenset(
    {"id", "stage", "status", "owner", "org_unit", "created_at", "updated_at", "flags"}
)


def _names(spec: Mapping[str, Any]) -> Iterator[str]:
    yield from filter_fields(spec.get("filter"))
    for measure in spec.get("measures", []):
        yield from filter_fields(measure.get("filter"))
        for part in ("numerator", "denominator"):
            yield from filter_fields((measure.get(part) or {}).get("filter"))
        if "field" in measure:
            yield measure["field"]
        yield from measure.get("fields", [])
    for group in spec.get("group_by", []):
        yield group["field"]


def widget_fields(spec: Mapping[str, Any], definition: FormDefinition) -> tuple[set[str], set[str]]:
    """``(form fields, system names)`` the widget reads (filters, measures, groups)."""
    fields: set[str] = set()
    system: set[str] = set()
    for name in _names(spec):
        (fields if name in definition.field_types else system).add(name)
    return fields, system


def fields_by_form(
    document: Mapping[str, Any], definitions: Mapping[str, FormDefinition]
) -> dict[str, set[str]]:
    """The form fields each form's widgets read, by form key."""
    out: dict[str, set[str]] = {}
    for spec in document.get("widgets", []):
        definition = definitions.get(spec["form"])
        if definition is not None:
            out.setdefault(spec["form"], set()).update(widget_fields(spec, definition)[0])
    return out
