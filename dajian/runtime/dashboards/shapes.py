"""The ``data`` of each widget type, built from a widget's grouped partials.

- ``kpi``: ``{value, color, measure, drill, drill_numerator?, numerator?, denominator?}``;
- every other type: ``{measures, dimensions, rows}``, each row ``{key, label, values,
  points}`` where ``points[measure]`` is ``{value, drill, drill_numerator?, color?}``;
  a ``funnel`` lists every stage of the workflow in order (zeros included), a ``radar``
  with ``compare: team_average`` adds ``average`` (the mean over the people shown),
  a ``heatmap`` adds its axes ``x`` and ``y`` and gives each row its ``x`` / ``y``
  index (docs/dashboards.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import fmean
from typing import TYPE_CHECKING, Any

from dajian.builder.fields.base import FieldType, global_id
from dajian.builder.filters import field_kind
from dajian.platform.i18n import localize
from dajian.runtime.dashboards.groups import Dimension, OrgUnitDimension, owner_present
from dajian.runtime.dashboards.labels import text
from dajian.runtime.dashboards.measures import Measure, RatioMeasure, StageHoursMeasure

if TYPE_CHECKING:
    from dajian.runtime.dashboards.compute import Key, WidgetRun

DEFAULT_LIMIT = 50


def value_kind(field_type: FieldType) -> str:
    return field_kind(field_type)


def threshold_color(value: Any, thresholds: Mapping[str, Any] | None) -> str | None:
    """green / yellow / red of a value: ≥ green is green, ≥ yellow yellow, else red;
    with ``lower_is_better`` ≤ green is green, ≤ yellow yellow, else red."""
    if value is None or not thresholds:
        return None
    green, yellow = thresholds["green"], thresholds["yellow"]
    if thresholds.get("lower_is_better"):
        return "green" if value <= green else "yellow" if value <= yellow else "red"
    return "green" if value >= green else "yellow" if value >= yellow else "red"


class Shape:
    def __init__(self, run: WidgetRun):
        self.run = run
        self.spec = run.spec
        self.thresholds = run.spec.get("thresholds")
        self.format = run.spec.get("format")

    # --- one figure ---------------------------------------------------------------------
    def point(
        self,
        measure: Measure,
        partial: Any,
        key: Key,
        groups: Sequence[Mapping[str, Any]],
        colored: bool,
    ) -> dict[str, Any]:
        value = measure.value(partial)
        if isinstance(measure, StageHoursMeasure):
            drills = measure.stage_drills(self.run.pinned, key[0] if key else None)
        else:
            drills = measure.drills(self.run.pinned, groups)
        out: dict[str, Any] = {"value": value}
        out.update({name: self.run.link(f) for name, f in drills.items()})
        if isinstance(measure, RatioMeasure):
            out.update(measure.counts(partial))
        if colored and self.thresholds:
            out["color"] = threshold_color(value, self.thresholds)
        return out

    def kpi(self, partials: Mapping[str, Any]) -> dict[str, Any]:
        measure = self.run.measures[0]
        point = self.point(measure, partials.get(measure.key), (), [], colored=True)
        point.setdefault("color", None)
        return {"measure": measure.describe(self.format), **point}

    # --- grouped figures --------------------------------------------------------------------
    def row(self, key: Key, partials: Mapping[str, Any]) -> dict[str, Any]:
        dimensions = self.run.dimensions
        groups = [d.drill(k) for d, k in zip(dimensions, key, strict=True)]
        points = {
            m.key: self.point(m, partials.get(m.key), key, groups, colored=(i == 0))
            for i, m in enumerate(self.run.measures)
        }
        return {
            "key": [d.api_key(k) for d, k in zip(dimensions, key, strict=True)],
            "label": [d.label(k) for d, k in zip(dimensions, key, strict=True)],
            "values": {name: point["value"] for name, point in points.items()},
            "points": points,
        }

    def grouped(self, found: Mapping[Key, Mapping[str, Any]]) -> dict[str, Any]:
        kind = self.spec["type"]
        dimensions = self.run.dimensions
        keys = set(found)
        if kind == "funnel":
            keys = {(stage,) for stage in dimensions[0].all_keys()}
        self._load_labels(keys, found)
        ordered = sorted(keys, key=self._order)
        rows = [(key, self.row(key, found.get(key, {}))) for key in ordered]
        out: dict[str, Any] = {
            "measures": [m.describe(self.format) for m in self.run.measures],
            "dimensions": [d.describe(self._title(d)) for d in dimensions],
        }
        if kind == "radar" and self.spec.get("compare") == "team_average":
            out["average"] = self.average(rows)
        if kind == "heatmap":
            return {**out, **self.heatmap(rows)}
        if kind != "funnel":  # a funnel is every stage, in the workflow's order
            rows = self._sorted(rows)[: self.spec.get("limit", DEFAULT_LIMIT)]
        out["rows"] = [row for _, row in rows]
        return out

    def _load_labels(self, keys: set[Key], found: Mapping[Key, Mapping[str, Any]]) -> None:
        """Load the deferred labels (related records' titles) of the groups whose labels
        are read, in one query per dimension: every group when groups are ordered by key
        (their labels order them) and on a heatmap's axes; with a value sort, the groups
        the limit shows and those tied with the last of them (equals keep key order)."""
        dimensions = self.run.dimensions
        deferred = [i for i, d in enumerate(dimensions) if d.deferred_labels]
        if not deferred:
            return
        needed = keys
        if self.spec["type"] not in ("heatmap", "funnel") and self.spec.get("sort", "key") != "key":
            needed = self._shown_by_value(keys, found)
        for i in deferred:
            dimensions[i].load_labels({key[i] for key in needed})

    def _shown_by_value(self, keys: set[Key], found: Mapping[Key, Mapping[str, Any]]) -> set[Key]:
        """The groups a value sort may show: within the limit, or tied with its last."""
        limit = self.spec.get("limit", DEFAULT_LIMIT)
        if len(keys) <= limit:
            return keys
        first = self.run.measures[0]
        sign = -1 if self.spec.get("sort") == "value_desc" else 1
        ranks = {}
        for key in keys:
            value = first.value(found.get(key, {}).get(first.key))
            ranks[key] = (value is None, 0 if value is None else sign * value)
        cutoff = sorted(ranks.values())[limit - 1]
        return {key for key, rank in ranks.items() if rank <= cutoff}

    def _order(self, key: Key) -> tuple[Any, ...]:
        return tuple(d.order(k) for d, k in zip(self.run.dimensions, key, strict=True))

    def _sorted(self, rows: list[tuple[Key, dict[str, Any]]]) -> list[tuple[Key, dict[str, Any]]]:
        sort = self.spec.get("sort", "key")
        if sort == "key":
            return rows
        first = self.run.measures[0].key
        sign = -1 if sort == "value_desc" else 1

        def by_value(item: tuple[Key, dict[str, Any]]) -> tuple[Any, ...]:
            value = item[1]["values"][first]
            return (value is None, 0 if value is None else sign * value)

        return sorted(rows, key=by_value)  # stable: equal values keep the key order

    def _title(self, dimension: Dimension) -> str:
        field_type = self.run.source.definition.field_types.get(dimension.field)
        if field_type is not None:
            return localize(field_type.definition.get("label")) or dimension.field
        return text(f"dim_{dimension.field}")

    def average(self, rows: Sequence[tuple[Key, dict[str, Any]]]) -> dict[str, Any]:
        """The team average: each measure's mean over the people (or units) shown, with
        the records of all of them behind it."""
        people = [row for key, row in rows if key[0] is not None]
        dimension = self.run.dimensions[0]
        if isinstance(dimension, OrgUnitDimension):
            roots = [global_id("OrgUnit", r) for r in dimension.labels.root_units()]
            present: dict[str, Any] = (
                {"field": "owner", "op": "in_unit", "value": roots}
                if roots
                else {"field": "id", "op": "in", "value": []}  # no units: nobody
            )
        else:
            present = owner_present()
        values, points = {}, {}
        for measure in self.run.measures:
            found = [row["values"][measure.key] for row in people]
            found = [v for v in found if v is not None]
            value = round(fmean(found), 6) if found else None
            drills = measure.drills(self.run.pinned, [present])
            values[measure.key] = value
            points[measure.key] = {
                "value": value,
                **{name: self.run.link(f) for name, f in drills.items()},
            }
        return {"label": text("team_average"), "values": values, "points": points}

    def heatmap(self, rows: Sequence[tuple[Key, dict[str, Any]]]) -> dict[str, Any]:
        """Axes ``y`` (the first grouping, at most ``limit`` keys) and ``x`` (the second),
        and the cells that have records, each with its ``x`` / ``y`` index."""
        y_dim, x_dim = self.run.dimensions
        limit = self.spec.get("limit", DEFAULT_LIMIT)
        y_keys = self._axis_keys(y_dim, {k[0] for k, _ in rows})[:limit]
        x_keys = self._axis_keys(x_dim, {k[1] for k, _ in rows})
        y_index = {k: i for i, k in enumerate(y_keys)}
        x_index = {k: i for i, k in enumerate(x_keys)}
        cells = []
        for key, row in rows:
            if key[0] in y_index:
                cells.append({**row, "x": x_index[key[1]], "y": y_index[key[0]]})
        return {
            "x": self._axis(x_dim, x_keys),
            "y": self._axis(y_dim, y_keys),
            "rows": cells,
        }

    def _axis_keys(self, dimension: Dimension, present: set[Any]) -> list[Any]:
        every = dimension.all_keys() if dimension.complete else []
        extra = [k for k in present if k not in every]
        return every + sorted(extra, key=dimension.order)

    def _axis(self, dimension: Dimension, keys: Sequence[Any]) -> dict[str, Any]:
        return {
            **dimension.describe(self._title(dimension)),
            "keys": [dimension.api_key(k) for k in keys],
            "labels": [dimension.label(k) for k in keys],
        }
