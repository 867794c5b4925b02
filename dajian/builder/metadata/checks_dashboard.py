"""The meaning of a dashboard document, checked at save and at publish.

The shape is checked first against ``dashboard.schema.json``; :func:`check_dashboard`
then checks every widget against the published forms of the app: the form exists and is
published; the fields exist and have a type that fits their use (``sum``/``avg``/
``min``/``max`` need numbers, a ``bucket`` a date or date-time, ``bins`` a number); the
widget type's rules (a KPI has one measure and no grouping, a heatmap two groupings, a
funnel groups by stage of a form with a workflow, a radar by person); the filters
compile; widget and measure keys are unique. Every problem comes back at its JSON path
(``widgets.2.measures.0.field``); the forms cost one query whatever the document.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import pairwise
from typing import Any

from dajian.builder.definitions import FormDefinition, definition_for_version
from dajian.builder.errors import MetadataErrorCode as Code
from dajian.builder.fields.base import FieldType
from dajian.builder.filters import DATE_SYSTEM_FIELDS, compile_filter, field_kind
from dajian.builder.metadata.checks_workflow import error
from dajian.builder.metadata.loaders import form_workflow
from dajian.builder.models import App, Form
from dajian.platform.errors import DajianError, ErrorDetail
from dajian.platform.i18n import format_message


class DashboardErrorCode:
    NOT_NUMERIC_FIELD = "NOT_NUMERIC_FIELD"
    NOT_DATE_FIELD = "NOT_DATE_FIELD"
    NOT_GROUPABLE = "NOT_GROUPABLE"
    NOT_STORED_FIELD = "NOT_STORED_FIELD"
    BUCKET_REQUIRED = "BUCKET_REQUIRED"
    BUCKET_NOT_ALLOWED = "BUCKET_NOT_ALLOWED"
    BINS_NOT_ALLOWED = "BINS_NOT_ALLOWED"
    BINS_NOT_ASCENDING = "BINS_NOT_ASCENDING"
    ONE_MEASURE = "ONE_MEASURE"
    GROUP_BY_NOT_ALLOWED = "GROUP_BY_NOT_ALLOWED"
    TWO_GROUPS = "TWO_GROUPS"
    GROUP_BY_STAGE = "GROUP_BY_STAGE"
    GROUP_BY_PERSON = "GROUP_BY_PERSON"
    NO_WORKFLOW = "NO_WORKFLOW"
    UNEXPECTED_OPTION = "UNEXPECTED_OPTION"
    NOT_ALLOWED_FOR_TYPE = "NOT_ALLOWED_FOR_TYPE"
    THRESHOLDS_ORDER = "THRESHOLDS_ORDER"


MESSAGES: dict[str, dict[str, str]] = {
    "NOT_NUMERIC_FIELD": {
        "en": "{function} needs a number field; {key!r} is {type!r}.",
        "zh-CN": "{function} 需要数值字段；{key} 的类型是 {type}。",
    },
    "NOT_DATE_FIELD": {
        "en": "A bucket groups dates and times; {key!r} is {type!r}.",
        "zh-CN": "时间分组需要日期或日期时间字段；{key} 的类型是 {type}。",
    },
    "NOT_GROUPABLE": {
        "en": "Records cannot be grouped by {key!r} ({type}).",
        "zh-CN": "不能按 {key}（{type}）分组。",
    },
    "NOT_STORED_FIELD": {
        "en": "{key!r} is computed when read; it cannot be counted.",
        "zh-CN": "{key} 在读取时计算，不能统计。",
    },
    "BUCKET_REQUIRED": {
        "en": "Group {key!r} by a bucket: day, week, month, quarter, year, weekday or hour.",
        "zh-CN": "请为 {key} 指定时间分组：日、周、月、季度、年、星期或小时。",
    },
    "BUCKET_NOT_ALLOWED": {
        "en": "{key!r} has no {bucket} bucket.",
        "zh-CN": "{key} 不能按 {bucket} 分组。",
    },
    "BINS_NOT_ALLOWED": {
        "en": "Only numbers take bins; {key!r} is not a number.",
        "zh-CN": "只有数值字段可以分段；{key} 不是数值。",
    },
    "BINS_NOT_ASCENDING": {
        "en": "Bins go up strictly: {bins}.",
        "zh-CN": "分段的边界必须严格递增：{bins}。",
    },
    "ONE_MEASURE": {
        "en": "A KPI shows exactly one measure.",
        "zh-CN": "指标卡只能有一个度量。",
    },
    "GROUP_BY_NOT_ALLOWED": {
        "en": "A KPI is one figure: it has no group_by.",
        "zh-CN": "指标卡只显示一个数值，不能分组。",
    },
    "TWO_GROUPS": {
        "en": "A heatmap groups by two things (e.g. owner and weekday).",
        "zh-CN": "热力图需要两个分组（例如负责人和星期）。",
    },
    "GROUP_BY_STAGE": {
        "en": "{what} groups by stage alone.",
        "zh-CN": "{what} 只能按阶段分组。",
    },
    "GROUP_BY_PERSON": {
        "en": "A radar compares people: group by owner or org_unit alone.",
        "zh-CN": "雷达图比较人员：只能按负责人或部门分组。",
    },
    "NO_WORKFLOW": {
        "en": "The form {key!r} has no published stages.",
        "zh-CN": "表单 {key} 没有已发布的阶段。",
    },
    "UNEXPECTED_OPTION": {
        "en": "{function} does not take {option!r}.",
        "zh-CN": "{function} 不使用 {option}。",
    },
    "NOT_ALLOWED_FOR_TYPE": {
        "en": "{option!r} does not apply to a {type} widget.",
        "zh-CN": "{option} 不适用于 {type} 组件。",
    },
    "THRESHOLDS_ORDER": {
        "en": "green must be {order} yellow.",
        "zh-CN": "green 必须{order} yellow。",
    },
}

# System columns a widget may group by (org_unit is the owner's unit).
GROUP_SYSTEM = frozenset(
    {"stage", "status", "owner", "org_unit", "created_at", "updated_at", "stage_entered_at"}
)
# Value types records can be grouped by (multi-valued and composite ones cannot; a
# relation groups by the related record, labelled with its title).
GROUPABLE_KINDS = frozenset(
    {
        "text",
        "email",
        "phone",
        "url",
        "single_select",
        "boolean",
        "user",
        "department",
        "relation",
        "number",
        "int",
        "money",
        "percent",
        "rating",
        "date",
        "datetime",
    }
)
PERSON_GROUPS = frozenset({"owner", "org_unit"})
FIELD_FUNCTIONS = frozenset({"sum", "avg", "min", "max"})
THRESHOLD_TYPES = frozenset({"kpi", "bar", "table"})


def dashboard_error(code: str, path: str, **params: Any) -> ErrorDetail:
    return ErrorDetail.at(path, code, format_message(MESSAGES, code, **params))


def used_forms(document: Mapping[str, Any]) -> set[str]:
    """The keys of the forms the widgets of a (shape-valid) document read."""
    return {w["form"] for w in document.get("widgets", [])}


def dashboard_forms(app: App, document: Mapping[str, Any]) -> dict[str, Form]:
    """The app's forms the document names, with their published version and workflow
    (one query)."""
    return {
        form.key: form
        for form in Form.objects.select_related("published", "workflow").filter(
            app=app, key__in=used_forms(document)
        )
    }


def check_dashboard(document: Mapping[str, Any], forms: Mapping[str, Form]) -> list[ErrorDetail]:
    """Every problem with the meaning of ``document`` (its shape is already valid);
    ``forms`` are the app's forms by key (:func:`dashboard_forms`)."""
    errors: list[ErrorDetail] = []
    seen: dict[str, int] = {}
    for i, widget in enumerate(document["widgets"]):
        path = f"widgets.{i}"
        if widget["key"] in seen:
            errors.append(error(Code.DUPLICATE_KEY, f"{path}.key", key=widget["key"]))
        seen.setdefault(widget["key"], i)
        form = forms.get(widget["form"])
        if form is None:
            errors.append(error(Code.UNKNOWN_FORM, f"{path}.form", key=widget["form"]))
            continue
        if form.published_id is None:
            errors.append(error(Code.FORM_NOT_PUBLISHED, f"{path}.form", key=widget["form"]))
            continue
        errors.extend(_WidgetCheck(widget, path, form).errors())
    return errors


class _WidgetCheck:
    def __init__(self, widget: Mapping[str, Any], path: str, form: Form):
        self.widget = widget
        self.path = path
        self.form = form
        self.definition: FormDefinition = definition_for_version(form.published)  # type: ignore[arg-type]
        self.has_workflow = form_workflow(form) is not None
        self.groups: list[Mapping[str, Any]] = list(widget.get("group_by", []))

    def errors(self) -> list[ErrorDetail]:
        errors = self.type_rules()
        errors.extend(self.filter_errors(self.widget.get("filter"), f"{self.path}.filter"))
        keys: set[str] = set()
        for j, measure in enumerate(self.widget["measures"]):
            where = f"{self.path}.measures.{j}"
            if measure["key"] in keys:
                errors.append(error(Code.DUPLICATE_KEY, f"{where}.key", key=measure["key"]))
            keys.add(measure["key"])
            errors.extend(self.measure(measure, where))
        fields: set[str] = set()
        for j, group in enumerate(self.groups):
            where = f"{self.path}.group_by.{j}"
            if group["field"] in fields:
                errors.append(error(Code.DUPLICATE_KEY, f"{where}.field", key=group["field"]))
            fields.add(group["field"])
            errors.extend(self.group(group, where))
        return errors

    # --- the widget type ------------------------------------------------------------------
    def type_rules(self) -> list[ErrorDetail]:
        kind, path = self.widget["type"], self.path
        group_fields = [g["field"] for g in self.groups]
        errors = []
        if kind == "kpi":
            if len(self.widget["measures"]) != 1:
                errors.append(dashboard_error(DashboardErrorCode.ONE_MEASURE, f"{path}.measures"))
            if self.groups:
                errors.append(
                    dashboard_error(DashboardErrorCode.GROUP_BY_NOT_ALLOWED, f"{path}.group_by")
                )
        elif kind == "heatmap" and len(self.groups) != 2:
            errors.append(dashboard_error(DashboardErrorCode.TWO_GROUPS, f"{path}.group_by"))
        elif kind == "funnel":
            if group_fields != ["stage"]:
                errors.append(
                    dashboard_error(
                        DashboardErrorCode.GROUP_BY_STAGE, f"{path}.group_by", what="A funnel"
                    )
                )
            if not self.has_workflow:
                errors.append(self.no_workflow(f"{path}.type"))
        elif kind == "radar" and (len(group_fields) != 1 or group_fields[0] not in PERSON_GROUPS):
            errors.append(dashboard_error(DashboardErrorCode.GROUP_BY_PERSON, f"{path}.group_by"))
        if "compare" in self.widget and kind != "radar":
            errors.append(self.not_for_type("compare"))
        if "thresholds" in self.widget:
            if kind not in THRESHOLD_TYPES:
                errors.append(self.not_for_type("thresholds"))
            errors.extend(self.threshold_order(self.widget["thresholds"]))
        return errors

    def not_for_type(self, option: str) -> ErrorDetail:
        return dashboard_error(
            DashboardErrorCode.NOT_ALLOWED_FOR_TYPE,
            f"{self.path}.{option}",
            option=option,
            type=self.widget["type"],
        )

    def threshold_order(self, thresholds: Mapping[str, Any]) -> list[ErrorDetail]:
        lower = bool(thresholds.get("lower_is_better"))
        green, yellow = thresholds["green"], thresholds["yellow"]
        if (green > yellow) if lower else (green < yellow):
            return [
                dashboard_error(
                    DashboardErrorCode.THRESHOLDS_ORDER,
                    f"{self.path}.thresholds.green",
                    order="at most" if lower else "at least",
                )
            ]
        return []

    def no_workflow(self, path: str) -> ErrorDetail:
        return dashboard_error(DashboardErrorCode.NO_WORKFLOW, path, key=self.form.key)

    # --- measures -------------------------------------------------------------------------
    def measure(self, measure: Mapping[str, Any], path: str) -> list[ErrorDetail]:
        function = measure["function"]
        errors = self.unexpected_options(measure, path)
        if function in FIELD_FUNCTIONS:
            errors.extend(self.numeric_field(measure["field"], f"{path}.field", function))
        elif function == "filled":
            for k, key in enumerate(measure["fields"]):
                errors.extend(self.stored_field(key, f"{path}.fields.{k}"))
        elif function == "ratio":
            for part in ("numerator", "denominator"):
                errors.extend(
                    self.filter_errors(measure[part].get("filter"), f"{path}.{part}.filter")
                )
        elif function == "avg_stage_hours":
            if [g["field"] for g in self.groups] != ["stage"]:
                errors.append(
                    dashboard_error(
                        DashboardErrorCode.GROUP_BY_STAGE,
                        f"{path}.function",
                        what="avg_stage_hours",
                    )
                )
            if not self.has_workflow:
                errors.append(self.no_workflow(f"{path}.function"))
        errors.extend(self.filter_errors(measure.get("filter"), f"{path}.filter"))
        return errors

    def unexpected_options(self, measure: Mapping[str, Any], path: str) -> list[ErrorDetail]:
        function = measure["function"]
        allowed = {
            "field": function in FIELD_FUNCTIONS,
            "fields": function == "filled",
            "numerator": function == "ratio",
            "denominator": function == "ratio",
        }
        return [
            dashboard_error(
                DashboardErrorCode.UNEXPECTED_OPTION,
                f"{path}.{option}",
                function=function,
                option=option,
            )
            for option, ok in allowed.items()
            if option in measure and not ok
        ]

    def field(self, key: str, path: str) -> FieldType | ErrorDetail:
        field_type = self.definition.field_types.get(key)
        if field_type is None:
            return error(Code.UNKNOWN_FIELD, path, key=key)
        return field_type

    def numeric_field(self, key: str, path: str, function: str) -> list[ErrorDetail]:
        found = self.field(key, path)
        if isinstance(found, ErrorDetail):
            return [found]
        if not (found.can_aggregate and found.stored):
            return [
                dashboard_error(
                    DashboardErrorCode.NOT_NUMERIC_FIELD,
                    path,
                    function=function,
                    key=key,
                    type=field_kind(found),
                )
            ]
        return []

    def stored_field(self, key: str, path: str) -> list[ErrorDetail]:
        found = self.field(key, path)
        if isinstance(found, ErrorDetail):
            return [found]
        if not found.stored:
            return [dashboard_error(DashboardErrorCode.NOT_STORED_FIELD, path, key=key)]
        return []

    # --- grouping -------------------------------------------------------------------------
    def group(self, group: Mapping[str, Any], path: str) -> list[ErrorDetail]:
        key = group["field"]
        if key in GROUP_SYSTEM and key not in self.definition.field_types:
            return self.system_group(group, path)
        found = self.field(key, f"{path}.field")
        if isinstance(found, ErrorDetail):
            return [found]
        kind = field_kind(found)
        multiple = bool(found.definition.get("multiple"))
        if kind not in GROUPABLE_KINDS or multiple or not found.stored:
            return [
                dashboard_error(
                    DashboardErrorCode.NOT_GROUPABLE, f"{path}.field", key=key, type=kind
                )
            ]
        return self.bucket_and_bins(group, path, kind, numeric=found.can_aggregate)

    def system_group(self, group: Mapping[str, Any], path: str) -> list[ErrorDetail]:
        key = group["field"]
        if key == "stage" and not self.has_workflow:
            return [self.no_workflow(f"{path}.field")]
        kind = "datetime" if key in DATE_SYSTEM_FIELDS else "system"
        return self.bucket_and_bins(group, path, kind, numeric=False)

    def bucket_and_bins(
        self, group: Mapping[str, Any], path: str, kind: str, numeric: bool
    ) -> list[ErrorDetail]:
        key, bucket, bins = group["field"], group.get("bucket"), group.get("bins")
        errors = []
        if kind in ("date", "datetime"):
            if bucket is None:
                errors.append(
                    dashboard_error(DashboardErrorCode.BUCKET_REQUIRED, f"{path}.field", key=key)
                )
            elif kind == "date" and bucket == "hour":
                errors.append(
                    dashboard_error(
                        DashboardErrorCode.BUCKET_NOT_ALLOWED,
                        f"{path}.bucket",
                        key=key,
                        bucket=bucket,
                    )
                )
        elif bucket is not None:
            errors.append(
                dashboard_error(
                    DashboardErrorCode.NOT_DATE_FIELD, f"{path}.bucket", key=key, type=kind
                )
            )
        if bins is not None:
            if not numeric:
                errors.append(
                    dashboard_error(DashboardErrorCode.BINS_NOT_ALLOWED, f"{path}.bins", key=key)
                )
            elif any(a >= b for a, b in pairwise(bins)):
                errors.append(
                    dashboard_error(
                        DashboardErrorCode.BINS_NOT_ASCENDING, f"{path}.bins", bins=bins
                    )
                )
        return errors

    # --- filters --------------------------------------------------------------------------
    def filter_errors(self, filter: Any, path: str) -> list[ErrorDetail]:
        if not filter:
            return []
        try:
            compile_filter(self.definition, filter, path=path)
        except DajianError as exc:
            return [ErrorDetail.at(e.path or path, e.code, e.message) for e in exc.errors]
        return []


def filter_fields(filter: Any) -> Iterator[str]:
    """The field keys a filter names (system names included)."""
    if isinstance(filter, Mapping):
        for op in ("and", "or"):
            if isinstance(filter.get(op), list):
                for item in filter[op]:
                    yield from filter_fields(item)
        if "not" in filter:
            yield from filter_fields(filter["not"])
        if isinstance(filter.get("field"), str):
            yield filter["field"]
