"""Line items: a list of rows, each with its own fields (order lines, visit checks...)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from dajian.builder.definitions import CEL_RESERVED
from dajian.builder.fields import registry
from dajian.builder.fields.base import FieldType, FieldValueError, Reference, definition_path
from dajian.builder.fields.registry import register
from dajian.builder.jsonschema import compile_schema, iter_errors, meta_schema
from dajian.platform.errors import ErrorDetail

MAX_ROWS = 1000
DEFAULT_MAX_ROWS = 200
# Types that cannot be a column of a row: nested tables, values computed from other
# records, numbers handed out per form.
NOT_IN_ROWS = frozenset({"subtable", "rollup", "autonumber"})
# Field options that need the whole record (conditions, rules) or a database index; rows
# do not have them.
NOT_IN_ROWS_OPTIONS = (
    "unique",
    "indexed",
    "readonly",
    "required_if",
    "visible_if",
    "readonly_if",
    "rules",
)


class SubtableErrors(FieldValueError):
    """Every problem of every row at once. ``errors`` is a list of ``(path, code,
    message)`` with paths relative to the field (``2.qty``, ``0.photo.1``); the runtime
    reports each as its own error (``lines.2.qty``)."""

    def __init__(self, errors: list[tuple[str, str, str]]):
        self.errors = errors
        path, code, message = errors[0]
        super().__init__(code, f"{len(errors)} problem(s) in the rows: {message}", path=path)


def _sub_types(sub_fields: Any) -> dict[str, FieldType]:
    return {f["key"]: registry.build(f) for f in sub_fields}


@register
class SubtableField(FieldType):
    """A list of row objects ``[{"qty": 2, "sku": "A-1"}, ...]``.

    Options: ``fields`` (sub-field definitions, same shape as form fields; any registered
    type except subtable, rollup and autonumber; no conditions, rules, unique or index
    options), ``min_rows``, ``max_rows`` (default 200, at most 1000). Formula sub-fields
    read the other cells of their row and are computed by :meth:`clean`; values sent for
    them are ignored. Rows with no value at all are dropped. :meth:`clean` raises
    :class:`SubtableErrors` listing every problem of every row: ``INVALID_TYPE`` (a row
    is not an object), ``UNKNOWN_FIELD``, ``REQUIRED``, the sub-types' own codes,
    ``FORMULA_ERROR``; and plain ``TOO_FEW_ITEMS`` / ``TOO_MANY_ITEMS`` for the row count.
    Definition codes: ``UNKNOWN_FIELD_TYPE``, ``SUBTABLE_TYPE_NOT_ALLOWED``,
    ``SUBTABLE_OPTION_NOT_ALLOWED``, ``DUPLICATE_KEY``, ``RESERVED_NAME``,
    ``UNKNOWN_OPTION`` and the sub-types' own. Not filterable, sortable or aggregable.
    """

    type = "subtable"
    label = {"zh-CN": "子表", "en": "Subtable"}
    clean_checks_shape = True
    cel_type = "list(map(string, dyn))"
    can_filter = False
    can_sort = False
    filter_ops = frozenset()
    options_schema = {
        "type": "object",
        "required": ["fields"],
        "properties": {
            "fields": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "items": {"$ref": "#/$defs/field"},
            },
            "min_rows": {"type": "integer", "minimum": 0, "maximum": MAX_ROWS},
            "max_rows": {"type": "integer", "minimum": 1, "maximum": MAX_ROWS},
        },
    }

    def __init__(self, definition: Mapping[str, Any]):
        super().__init__(definition)
        self.sub_fields: list[Mapping[str, Any]] = list(definition.get("fields", []))
        self.min_rows = int(definition.get("min_rows", 0))
        self.max_rows = min(int(definition.get("max_rows", DEFAULT_MAX_ROWS)), MAX_ROWS)

    @cached_property
    def columns(self) -> dict[str, FieldType]:
        """The sub-field types by key (definitions must have passed the checks)."""
        return _sub_types(self.sub_fields)

    @cached_property
    def formula_keys(self) -> list[str]:
        from dajian.builder.fields.formula import formula_order

        return formula_order({"fields": self.sub_fields})

    # --- definition --------------------------------------------------------------------
    def check_definition(self, form_definition: Mapping[str, Any]) -> list[ErrorDetail]:
        base = definition_path(form_definition, self.key)
        errors: list[ErrorDetail] = []

        def error(code: str, message: str, path: str) -> None:
            errors.append(ErrorDetail(code=code, message=message, field="fields", path=path))

        if self.min_rows > self.max_rows:
            error("INVALID_OPTION", "min_rows is larger than max_rows.", f"{base}.min_rows")
        counts = Counter(f.get("key") for f in self.sub_fields)
        defs = meta_schema("form")["$defs"]
        common = set(defs["field"]["properties"])
        valid: list[tuple[int, Mapping[str, Any]]] = []
        for j, sub in enumerate(self.sub_fields):
            path = f"{base}.fields.{j}"
            before = len(errors)
            key = sub["key"]
            if counts[key] > 1:
                error("DUPLICATE_KEY", f"Column key {key!r} is used twice.", f"{path}.key")
            if key in CEL_RESERVED:
                error("RESERVED_NAME", f"{key!r} is a reserved name.", f"{path}.key")
            for option in NOT_IN_ROWS_OPTIONS:
                if option in sub:
                    error(
                        "SUBTABLE_OPTION_NOT_ALLOWED",
                        f"{option!r} is not available for the columns of a subtable.",
                        f"{path}.{option}",
                    )
            cls = registry.get(sub["type"])
            if cls is None:
                error("UNKNOWN_FIELD_TYPE", f"Unknown field type {sub['type']!r}.", f"{path}.type")
                continue
            if sub["type"] in NOT_IN_ROWS:
                error(
                    "SUBTABLE_TYPE_NOT_ALLOWED",
                    f"A subtable cannot have {sub['type']!r} columns.",
                    f"{path}.type",
                )
                continue
            schema = {"$defs": defs, "additionalProperties": False, **cls.options_schema}
            schema.setdefault("type", "object")
            options = {k: v for k, v in sub.items() if k not in common}
            for sub_path, code, message in iter_errors(compile_schema(schema), options):
                code = "UNKNOWN_OPTION" if code == "UNKNOWN_FIELD" else code
                error(code, message, f"{path}.{sub_path}" if sub_path else path)
            if len(errors) == before:
                valid.append((j, sub))
        row_form = {"key": form_definition.get("key", ""), "fields": self.sub_fields}
        for j, sub in valid:
            field_type = registry.build(sub)
            check_expression = getattr(field_type, "check_expression", None)
            if check_expression is not None:
                # Row formulas see their own row only.
                found = check_expression(
                    self.sub_fields, allowed_names=frozenset(), path=f"fields.{j}"
                )
            else:
                found = field_type.check_definition(row_form)
            for e in found:
                path = f"{base}.{e.path}" if e.path else base
                errors.append(
                    ErrorDetail(code=e.code, message=e.message, field="fields", path=path)
                )
        return errors

    # --- values ------------------------------------------------------------------------
    def json_schema(self) -> dict[str, Any]:
        properties = {
            key: _nullable(column.json_schema() or {}) for key, column in self.columns.items()
        }
        return {
            "type": "array",
            "maxItems": self.max_rows,
            "items": {"type": "object", "additionalProperties": False, "properties": properties},
        }

    def ui_hints(self) -> dict[str, Any]:
        return {
            "widget": "subtable",
            "minRows": self.min_rows,
            "maxRows": self.max_rows,
            "columns": [
                {
                    "key": key,
                    "type": column.type,
                    "label": column.definition.get("label"),
                    "required": bool(column.definition.get("required")),
                    "readOnly": column.read_only,
                    **column.ui_hints(),
                }
                for key, column in self.columns.items()
            ],
        }

    def clean(self, value: Any) -> Any:
        if not isinstance(value, list):
            raise FieldValueError("INVALID_TYPE", "Expected a list of rows.")
        if len(value) > self.max_rows:
            raise FieldValueError(
                "TOO_MANY_ITEMS", f"At most {self.max_rows} rows.", max_rows=self.max_rows
            )
        rows: list[dict[str, Any]] = []
        errors: list[tuple[str, str, str]] = []
        for i, row in enumerate(value):
            if not isinstance(row, Mapping):
                errors.append((str(i), "INVALID_TYPE", "A row is an object."))
                continue
            if all(v is None or v in ("", [], {}) for v in row.values()):
                continue
            cleaned = self._clean_row(i, row, errors)
            if cleaned is not None:
                rows.append(cleaned)
        if errors:
            raise SubtableErrors(errors)
        if rows and len(rows) < self.min_rows:
            raise FieldValueError(
                "TOO_FEW_ITEMS", f"At least {self.min_rows} rows.", min_rows=self.min_rows
            )
        return rows

    def _clean_row(
        self, i: int, row: Mapping[str, Any], errors: list[tuple[str, str, str]]
    ) -> dict[str, Any] | None:
        before = len(errors)
        for key in row:
            if key not in self.columns:
                errors.append((f"{i}.{key}", "UNKNOWN_FIELD", f"The row has no column {key!r}."))
        out: dict[str, Any] = {}
        for key, column in self.columns.items():
            if column.read_only:
                continue
            raw = row.get(key)
            if raw is None and "default" in column.definition:
                raw = column.definition["default"]
            if raw is not None:
                try:
                    cleaned = column.clean(raw)
                except FieldValueError as exc:
                    for path, code, message in _flatten(exc):
                        errors.append(
                            (f"{i}.{key}.{path}" if path else f"{i}.{key}", code, message)
                        )
                    continue
                if not column.empty(cleaned):
                    out[key] = cleaned
                    continue
            if column.definition.get("required"):
                errors.append((f"{i}.{key}", "REQUIRED", "This column is required."))
        if len(errors) > before:
            return None
        activation = self._activation(out)
        for key in self.formula_keys:
            column = self.columns[key]
            try:
                result = column.compute(activation)  # type: ignore[attr-defined]
            except FieldValueError as exc:
                errors.append((f"{i}.{key}", exc.code, exc.message))
                return None
            if result is not None:
                out[key] = result
                activation[key] = column.to_cel(result)
        return out

    def _activation(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The row as typed CEL values; every column present (null when empty)."""
        return {
            key: None if row.get(key) is None else column.to_cel(row[key])
            for key, column in self.columns.items()
        }

    def references(self, value: Any) -> list[Reference]:
        refs: list[Reference] = []
        for i, row in enumerate(value or []):
            for key, cell in row.items():
                column = self.columns.get(key)
                if column is None or cell is None:
                    continue
                for ref in column.references(cell):
                    path = f"{i}.{key}.{ref.path}" if ref.path else f"{i}.{key}"
                    refs.append(
                        Reference(
                            ref.kind, ref.ids, target=ref.target, path=path, accept=ref.accept
                        )
                    )
        return refs

    def to_api(self, value: Any) -> Any:
        return [self._map_row(row, "to_api") for row in value]

    def to_cel(self, value: Any) -> Any:
        return [self._activation(row) for row in value]

    def _map_row(self, row: Mapping[str, Any], method: str) -> dict[str, Any]:
        out = {}
        for key, cell in row.items():
            column = self.columns.get(key)
            out[key] = getattr(column, method)(cell) if column and cell is not None else cell
        return out

    # --- spreadsheets and demo data ----------------------------------------------------
    def to_cell(self, value: Any) -> Any:
        """The rows as JSON text (one cell holds the whole table)."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def from_cell(self, cell: Any) -> Any:
        if not isinstance(cell, str):
            return cell
        if not cell.strip():
            return None
        try:
            return json.loads(cell)
        except ValueError:
            raise FieldValueError("INVALID_FORMAT", "Expected the rows as JSON.") from None

    def example_value(self, faker: Any) -> Any:
        rows = []
        for _ in range(max(self.min_rows, 2)):
            row = {}
            for key, column in self.columns.items():
                if column.read_only:
                    continue
                example = column.example_value(faker)
                if example is None and column.definition.get("required"):
                    return None  # e.g. a required user column: no ids to invent
                if example is not None:
                    row[key] = example
            rows.append(row)
        try:
            return self.clean(rows)
        except FieldValueError:
            return None


def _flatten(exc: FieldValueError) -> list[tuple[str | None, str, str]]:
    nested = getattr(exc, "errors", None)
    if nested:
        return [(p, c, m) for p, c, m in nested]
    return [(exc.path, exc.code, exc.message)]


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` that also accepts ``null`` (an empty cell)."""
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    if isinstance(kind, str):
        return {**schema, "type": [kind, "null"]}
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}
