"""Labels of group keys in the viewer's language, loaded in bulk: people's display
names, org units (names, and the chart's shape for drill-downs), the titles of related
records the viewer may read, and fixed texts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth import get_user_model

from dajian.builder.definitions import FormDefinition
from dajian.builder.models import Form
from dajian.platform.actors import Actor
from dajian.platform.i18n import format_message
from dajian.platform.models import Membership, OrgUnit, Workspace
from dajian.runtime.models import Record
from dajian.runtime.policies import definition_of, policy_for

# Ids per query when titles of related records are loaded (below every database's limit
# of bound parameters; a widget shows at most 100 groups).
TITLE_BATCH = 2000

TEXTS: dict[str, dict[str, str]] = {
    "empty": {"zh-CN": "（空）", "en": "(empty)"},
    "yes": {"zh-CN": "是", "en": "Yes"},
    "no": {"zh-CN": "否", "en": "No"},
    "no_owner": {"zh-CN": "公海（无负责人）", "en": "Pool (no owner)"},
    "no_unit": {"zh-CN": "未分配部门", "en": "No unit"},
    "no_stage": {"zh-CN": "无阶段", "en": "No stage"},
    "status_active": {"zh-CN": "正常", "en": "Active"},
    "status_in_approval": {"zh-CN": "审批中", "en": "In approval"},
    "status_frozen": {"zh-CN": "已冻结", "en": "Frozen"},
    "team_average": {"zh-CN": "团队平均", "en": "Team average"},
    "count": {"zh-CN": "数量", "en": "Count"},
    "sum": {"zh-CN": "{field}合计", "en": "Total {field}"},
    "avg": {"zh-CN": "平均{field}", "en": "Average {field}"},
    "min": {"zh-CN": "最小{field}", "en": "Lowest {field}"},
    "max": {"zh-CN": "最大{field}", "en": "Highest {field}"},
    "ratio": {"zh-CN": "占比", "en": "Share"},
    "filled": {"zh-CN": "填写率", "en": "Filled"},
    "avg_stage_hours": {"zh-CN": "平均停留小时", "en": "Average hours in stage"},
    "dim_stage": {"zh-CN": "阶段", "en": "Stage"},
    "dim_status": {"zh-CN": "状态", "en": "Status"},
    "dim_owner": {"zh-CN": "负责人", "en": "Owner"},
    "dim_org_unit": {"zh-CN": "部门", "en": "Unit"},
    "dim_created_at": {"zh-CN": "创建时间", "en": "Created"},
    "dim_updated_at": {"zh-CN": "更新时间", "en": "Updated"},
    "dim_stage_entered_at": {"zh-CN": "进入阶段时间", "en": "Entered stage"},
}


def text(code: str, **params: str) -> str:
    """A fixed text of dashboards in the viewer's language."""
    return format_message(TEXTS, code, **params)


def title_text(definition: FormDefinition, keys: Sequence[str], values: Sequence[Any]) -> str:
    """A record's title: its title fields' values (``values``, in the order of ``keys``)
    joined by spaces, choices by their label; empty values left out."""
    parts = []
    for key, value in zip(keys, values, strict=True):
        if value is None or value == "" or value == []:
            continue
        field_type = definition.field_types[key]
        if field_type.type == "single_select":
            parts.append(field_type.label_of(value))  # type: ignore[attr-defined]
        elif isinstance(value, bool):
            parts.append(text("yes" if value else "no"))
        elif isinstance(value, list):
            parts.append(", ".join(str(v) for v in value))
        else:
            parts.append(str(value))
    return " ".join(parts)


def display_name(user: object) -> str:
    full = user.get_full_name()  # type: ignore[attr-defined]
    return str(full or user.get_username())  # type: ignore[attr-defined]


class Labels:
    """Names of people and org units of one workspace, each loaded once per dashboard."""

    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self._users: dict[int, str] = {}
        self._unit_of: dict[int, int | None] = {}
        self._units: dict[int, tuple[str, int | None]] | None = None
        self._titles: dict[tuple[int, int], str | None] = {}

    # --- people ---------------------------------------------------------------------------
    def load_users(self, ids: Iterable[int]) -> None:
        missing = {i for i in ids if i not in self._users}
        if not missing:
            return
        users = (
            get_user_model()
            .objects.filter(pk__in=missing)
            .only("pk", "username", "first_name", "last_name")
        )
        for user in users:
            self._users[user.pk] = display_name(user)

    def user(self, user_id: int) -> str:
        return self._users.get(user_id, f"#{user_id}")

    # --- org units ------------------------------------------------------------------------
    def _chart(self) -> dict[int, tuple[str, int | None]]:
        if self._units is None:
            rows = OrgUnit.objects.filter(workspace=self.workspace).values_list(
                "pk", "name", "parent_id"
            )
            self._units = {pk: (name, parent) for pk, name, parent in rows}
        return self._units

    def load_units(self, ids: Iterable[int]) -> None:
        self._chart()

    def load_memberships(self, user_ids: Iterable[int]) -> None:
        """Each owner's unit in the workspace (None: no unit, or not a member)."""
        missing = {i for i in user_ids if i not in self._unit_of}
        if not missing:
            return
        rows = Membership.objects.filter(workspace=self.workspace, user_id__in=missing)
        found = dict(rows.values_list("user_id", "org_unit_id"))
        for user_id in missing:
            self._unit_of[user_id] = found.get(user_id)
        self._chart()

    def unit_of(self, user_id: int) -> int | None:
        return self._unit_of.get(user_id)

    def unit(self, unit_id: int) -> str:
        found = self._chart().get(unit_id)
        return found[0] if found else f"#{unit_id}"

    def children(self, unit_id: int) -> list[int]:
        return sorted(pk for pk, (_, parent) in self._chart().items() if parent == unit_id)

    def root_units(self) -> list[int]:
        return sorted(pk for pk, (_, parent) in self._chart().items() if parent is None)

    # --- related records ------------------------------------------------------------------
    def load_records(self, actor: Actor, form: Form | None, ids: Iterable[int]) -> None:
        """The titles of the records ``ids`` of ``form`` (a relation's target) as
        ``actor`` may see them: only records in their read scope, only title fields not
        hidden from them (one query per 2,000 ids). The others — outside the scope,
        deleted, or with no visible title — get none: :meth:`record` names them by id,
        so a label never shows what ``records`` would not show the viewer."""
        if form is None:
            return
        missing = sorted({i for i in ids if (form.pk, i) not in self._titles})
        if not missing:
            return
        definition = definition_of(form)
        found: dict[int, str] = {}
        if definition is not None:
            hidden = policy_for(actor, form).hidden_fields
            keys = [
                key
                for key in definition.title_fields
                if key not in hidden and key in definition.stored_keys
            ]
            lookups = [f"data__{key}" for key in keys]
            readable = Record.objects.permitted(actor, form)
            for start in range(0, len(missing) if keys else 0, TITLE_BATCH):
                batch = missing[start : start + TITLE_BATCH]
                for pk, *values in readable.filter(pk__in=batch).values_list("pk", *lookups):
                    found[pk] = title_text(definition, keys, values)
        for record_id in missing:
            self._titles[(form.pk, record_id)] = found.get(record_id) or None

    def record(self, form_id: int, record_id: int) -> str | None:
        """The title loaded for a related record, or None (see :meth:`load_records`)."""
        return self._titles.get((form_id, record_id))
