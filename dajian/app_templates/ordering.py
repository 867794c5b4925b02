"""How forms of one app depend on each other, for installing and exporting them.

A rollup can only be published once its source form is (the builder checks the source
has a single relation back), while a relation may name a form published later. Forms
that refer to each other through rollups therefore need two passes: first with the
rollups whose sources are not published yet replaced by a plain placeholder field of the
same key, then with the full definition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

Definition = Mapping[str, Any]


def rollup_sources(definition: Definition) -> set[str]:
    """Keys of the other forms this form's rollups read."""
    return {
        f["source"]["form"]
        for f in definition.get("fields", [])
        if f.get("type") == "rollup" and f["source"]["form"] != definition.get("key")
    }


def relation_targets(definition: Definition) -> set[str]:
    """Keys of the other forms this form's relation fields point at."""
    return {
        f["target"]
        for f in definition.get("fields", [])
        if f.get("type") == "relation" and f.get("target") != definition.get("key")
    }


def without_rollups(definition: Definition, sources: Iterable[str]) -> dict[str, Any]:
    """``definition`` with each rollup over one of ``sources`` replaced by a number
    field of the same key and label: every other part of the form (rules, layout,
    permissions) still finds the key, and no record exists to store a value in it
    before the full definition is published in the same transaction."""
    pending = set(sources)
    fields = [
        {"key": f["key"], "type": "number", "label": f["label"]}
        if f.get("type") == "rollup" and f["source"]["form"] in pending
        else f
        for f in definition["fields"]
    ]
    return {**definition, "fields": fields}


def dependency_order(definitions: Mapping[str, Definition]) -> list[str]:
    """Form keys in an order that publishes: every form after the forms its rollups
    read and, where no cycle prevents it, after the forms its relations point at; ties
    by key, so the order is stable. Rollup cycles are broken by key (the installer's two
    passes handle them)."""
    return _order(definitions, rollup_sources, relation_targets)


def filling_order(definitions: Mapping[str, Definition]) -> list[str]:
    """Form keys in an order that fills with records: relation targets first (then,
    where possible, rollup sources)."""
    return _order(definitions, relation_targets, rollup_sources)


def _order(
    definitions: Mapping[str, Definition],
    strong: Callable[[Definition], set[str]],
    weak: Callable[[Definition], set[str]],
) -> list[str]:
    remaining = dict(sorted(definitions.items()))
    order: list[str] = []

    def ready(key: str, with_weak: bool) -> bool:
        needs = strong(remaining[key]) | (weak(remaining[key]) if with_weak else set())
        return not needs & set(remaining)

    while remaining:
        key = next(
            (k for k in remaining if ready(k, with_weak=True)),
            next((k for k in remaining if ready(k, with_weak=False)), next(iter(remaining))),
        )
        order.append(key)
        del remaining[key]
    return order
