"""Formulas: a CEL expression computed and stored at write time (R19, R20).

The runtime calls :meth:`FormulaField.compute` for each formula in the order of
:func:`formula_order` (a formula may read other formulas), with the record's typed
activation: every field key, ``record``, ``user`` and ``now``. The stored value is
normalised by the registered type of ``result_type`` (``int`` is a number with precision
0), so a formula filters, sorts, aggregates and exports exactly like that type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from functools import cached_property
from typing import Any

from django.db.models import Expression, F, Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from dajian.builder.definitions import RESERVED_NAMES
from dajian.builder.fields import registry
from dajian.builder.fields.base import FieldType, FieldValueError, definition_path
from dajian.builder.fields.registry import register
from dajian.platform.errors import ErrorDetail
from dajian.platform.expressions import CompiledExpression, ExpressionError, compile_expression

MAX_TEXT = 10_000
MAX_DECIMALS = 10
# result_type → (registered type that stores it, its extra options, CEL type, JSON Schema)
RESULT_TYPES: dict[str, tuple[str, dict[str, Any], str, dict[str, Any]]] = {
    "number": ("number", {}, "double", {"type": "number"}),
    "int": ("number", {"precision": 0}, "int", {"type": "integer"}),
    "text": ("text", {"max_length": MAX_TEXT}, "string", {"type": "string"}),
    "boolean": ("boolean", {}, "bool", {"type": "boolean"}),
    "date": ("date", {}, "timestamp", {"type": "string", "format": "date"}),
    "datetime": ("datetime", {}, "timestamp", {"type": "string", "format": "date-time"}),
}


class FormulaCycleError(ValueError):
    """Formulas that read each other in a circle (``keys`` in reading order)."""

    def __init__(self, keys: Sequence[str]):
        self.keys = list(keys)
        super().__init__("formula cycle: " + " → ".join(self.keys))


@register
class FormulaField(FieldType):
    """A computed, read-only value: ``expression`` (CEL) converted to ``result_type``
    (number, int, text, boolean, date, datetime).

    Options: ``expression`` (required), ``result_type`` (required), ``decimals`` (0 to 10,
    rounds number results). :meth:`compute` raises ``FORMULA_ERROR`` when the expression
    fails or its result does not fit the result type; a CEL ``null`` stores nothing.
    Definition codes: the expression's own code (``EXPRESSION_SYNTAX``...),
    ``UNKNOWN_REFERENCE``, ``FORMULA_UNSTORED_FIELD`` (reads a value computed at read
    time, like a rollup), ``FORMULA_CYCLE``. Filters, sorting, aggregation, CEL and cells
    follow the result type.
    """

    type = "formula"
    label = {"zh-CN": "公式", "en": "Formula"}
    read_only = True
    options_schema = {
        "type": "object",
        "required": ["expression", "result_type"],
        "properties": {
            "expression": {"$ref": "#/$defs/expression"},
            "result_type": {"enum": list(RESULT_TYPES)},
            "decimals": {"type": "integer", "minimum": 0, "maximum": 10},
        },
    }

    def __init__(self, definition: Mapping[str, Any]):
        super().__init__(definition)
        self.expression: str = definition["expression"]
        self.result_type: str = definition.get("result_type", "number")
        stored_as = self.result_field
        # Per definition: the capabilities are those of the result type.
        self.cel_type = RESULT_TYPES[self.result_type][2]  # type: ignore[misc]
        if stored_as is not None:
            self.can_filter = stored_as.can_filter  # type: ignore[misc]
            self.can_sort = stored_as.can_sort  # type: ignore[misc]
            self.can_aggregate = stored_as.can_aggregate  # type: ignore[misc]
            self.filter_ops = stored_as.filter_ops  # type: ignore[misc]

    @cached_property
    def result_field(self) -> FieldType | None:
        """The field type that stores the result (None if it is not registered)."""
        type_name, options, _, _ = RESULT_TYPES[self.result_type]
        cls = registry.get(type_name)
        if cls is None:
            return None
        return cls({"key": self.key, "type": type_name, "label": "", **options})

    @cached_property
    def compiled(self) -> CompiledExpression:
        return compile_expression(self.expression)

    # --- definition --------------------------------------------------------------------
    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        return self.check_expression(
            form_definition.get("fields", []),
            allowed_names=RESERVED_NAMES,
            path=definition_path(form_definition, self.key),
        )

    def check_expression(
        self, fields: Sequence[Mapping[str, Any]], *, allowed_names: frozenset[str], path: str
    ) -> list[ErrorDetail]:
        """Problems of the expression among ``fields`` (the form's, or a subtable row's),
        which may also read ``allowed_names``. ``path`` is this field's definition path."""

        def error(code: str, message: str) -> ErrorDetail:
            return ErrorDetail(
                code=code, message=message, field="fields", path=f"{path}.expression"
            )

        try:
            compiled = compile_expression(self.expression)
        except ExpressionError as exc:
            where = f" at {exc.line}:{exc.column}" if exc.line is not None else ""
            return [error(str(exc.code), f"Invalid expression{where}: {exc.message}")]
        by_key = {f.get("key"): f for f in fields}
        errors = []
        for name in sorted(compiled.identifiers):
            if name in allowed_names:
                continue
            if name not in by_key:
                errors.append(
                    error("UNKNOWN_REFERENCE", f"The formula uses {name!r}, which is not a field.")
                )
                continue
            cls = registry.get(by_key[name].get("type", ""))
            if cls is not None and not cls.stored:
                errors.append(
                    error(
                        "FORMULA_UNSTORED_FIELD",
                        f"{name!r} is computed when read, so a formula cannot use it.",
                    )
                )
        cycle = _cycle_through(self.key, fields)
        if cycle:
            errors.append(error("FORMULA_CYCLE", "Formulas use each other: " + " → ".join(cycle)))
        return errors

    # --- values ------------------------------------------------------------------------
    def compute(self, activation: Mapping[str, Any]) -> Any:
        """The value to store for this activation: None when the result is null, or when
        the expression fails while a value it reads is empty; ``FORMULA_ERROR`` otherwise."""
        try:
            result = self.compiled.evaluate(activation)
        except ExpressionError as exc:
            if any(activation.get(name) is None for name in self.compiled.identifiers):
                return None  # a formula of empty inputs is empty, not an error
            raise FieldValueError("FORMULA_ERROR", f"The formula failed: {exc.message}") from None
        if result is None:
            return None
        value = self._convert(result)
        if self.result_field is None:
            return value
        try:
            return self.result_field.clean(value)
        except FieldValueError as exc:
            raise FieldValueError("FORMULA_ERROR", f"The formula's result: {exc.message}") from None

    def _convert(self, result: Any) -> Any:
        """The CEL result as the API value of the result type."""
        kind = self.result_type
        if kind in ("number", "int"):
            if isinstance(result, bool) or not isinstance(result, int | float):
                raise _wrong(kind, result)
            if isinstance(result, float) and not math.isfinite(result):
                raise FieldValueError("FORMULA_ERROR", "The formula's result is not a number.")
            if kind == "int":
                if isinstance(result, float) and not result.is_integer():
                    raise FieldValueError(
                        "FORMULA_ERROR", f"The formula's result {result} is not an integer."
                    )
                return int(result)
            # Binary doubles carry noise (0.1 * 3.0 = 0.30000000000000004): numbers keep
            # at most 10 decimals, or ``decimals``.
            return round(result, int(self.definition.get("decimals", MAX_DECIMALS)))
        if kind == "text":
            if not isinstance(result, str):
                raise _wrong(kind, result)
            return result
        if kind == "boolean":
            if not isinstance(result, bool):
                raise _wrong(kind, result)
            return result
        if kind == "date":
            return _to_date(result).isoformat()
        return _to_datetime(result).isoformat()

    def json_schema(self) -> dict[str, Any]:
        if self.result_field is not None:
            return self.result_field.json_schema()
        return dict(RESULT_TYPES[self.result_type][3])

    def ui_hints(self) -> dict[str, Any]:
        return {"widget": "formula", "resultType": self.result_type, "readOnly": True}

    def to_cel(self, value: Any) -> Any:
        return value if self.result_field is None else self.result_field.to_cel(value)

    # --- SQL: like the result type -----------------------------------------------------
    def filter_value(self, op: str, value: Any) -> Any:
        if self.result_field is None:
            return super().filter_value(op, value)
        return self.result_field.filter_value(op, value)

    def filter_q(self, op: str, value: Any) -> Q:
        if self.result_field is None:
            return super().filter_q(op, value)
        return self.result_field.filter_q(op, value)

    def sort_expression(self) -> Expression | F:
        if self.result_field is None:
            return super().sort_expression()
        return self.result_field.sort_expression()

    def aggregate_expression(self) -> Expression:
        if self.result_field is None:
            return super().aggregate_expression()
        return self.result_field.aggregate_expression()

    def clean(self, value: Any) -> Any:
        """Normalise a stored-shape value (filter operands, imports of old data)."""
        if self.result_field is None:
            return value
        return self.result_field.clean(value)

    # --- spreadsheets ------------------------------------------------------------------
    def to_cell(self, value: Any) -> Any:
        return value if self.result_field is None else self.result_field.to_cell(value)

    def from_cell(self, cell: Any) -> Any:
        return cell if self.result_field is None else self.result_field.from_cell(cell)


def _wrong(kind: str, result: Any) -> FieldValueError:
    return FieldValueError(
        "FORMULA_ERROR",
        f"The formula gives {type(result).__name__}, but its result type is {kind}.",
    )


def _to_date(result: Any) -> date:
    """A timestamp at 00:00 UTC is that date (date fields enter CEL that way); any other
    instant is the date in the current time zone."""
    if isinstance(result, datetime):
        if result.tzinfo is None:
            raise FieldValueError("FORMULA_ERROR", "The formula's timestamp has no time zone.")
        utc = result.astimezone(UTC)
        return utc.date() if utc.time() == time(0) else timezone.localtime(result).date()
    if isinstance(result, date):
        return result
    if isinstance(result, str):
        parsed = parse_date(result.strip())
        if parsed is not None:
            return parsed
    raise _wrong("date", result)


def _to_datetime(result: Any) -> datetime:
    if isinstance(result, str):
        parsed = parse_datetime(result.strip())
        result = parsed if parsed is not None else result
    if isinstance(result, datetime) and result.tzinfo is not None:
        return result.astimezone(UTC)
    raise _wrong("datetime", result)


# --- order and cycles ----------------------------------------------------------------
def _formula_graph(fields: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """``{formula key: formula keys it reads}`` in field order; an expression that does
    not compile reads nothing (its own check reports it)."""
    formulas: dict[str, str] = {}
    for f in fields:
        cls = registry.get(f.get("type", ""))
        if cls is not None and issubclass(cls, FormulaField) and "expression" in f:
            formulas[f["key"]] = f["expression"]
    graph: dict[str, list[str]] = {}
    for key, source in formulas.items():
        try:
            names = compile_expression(source).identifiers
        except ExpressionError:
            names = frozenset()
        graph[key] = [k for k in formulas if k in names]
    return graph


def _cycle_through(key: str, fields: Sequence[Mapping[str, Any]]) -> list[str]:
    """A cycle of formulas that starts and ends at ``key`` (empty if there is none)."""
    graph = _formula_graph(fields)
    stack: list[tuple[str, list[str]]] = [(key, [key])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for nxt in graph.get(node, []):
            if nxt == key:
                return [*trail, key]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return []


def formula_order(form_definition: Mapping[str, Any]) -> list[str]:
    """The keys of the form's formulas, each after the formulas it reads (otherwise in
    field order). Raises :class:`FormulaCycleError` if formulas read each other in a
    circle (a checked definition never does)."""
    graph = _formula_graph(form_definition.get("fields", []))
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise FormulaCycleError([*trail[trail.index(node) :], node])
        state[node] = 1
        for dep in graph[node]:
            visit(dep, [*trail, node])
        state[node] = 2
        order.append(node)

    for key in graph:
        visit(key, [])
    return order
