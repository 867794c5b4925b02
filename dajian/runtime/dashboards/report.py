"""A dashboard's figures as a short text report (scheduled pushes, R29): one line per
KPI with its colour, the first rows of every other widget, in the language active when
the figures were computed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dajian.platform.i18n import current_locale

ROWS_SHOWN = 5
COLORS = {"green": "🟢", "yellow": "🟡", "red": "🔴"}
UNITS = {"hours": {"zh-CN": "小时", "en": " h"}}
NO_VALUE = "—"


def format_value(value: Any, format: str | None) -> str:
    """``65.0%``, ``1,234.50``, ``12.5 h``, ``1,234``."""
    if value is None:
        return NO_VALUE
    if format == "percent":
        return f"{value * 100:.1f}%"
    if format == "money":
        return f"{value:,.2f}"
    if format == "hours":
        return f"{value:,.1f}{UNITS['hours'][current_locale()]}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def _kpi_line(widget: Mapping[str, Any]) -> str:
    data = widget["data"]
    mark = COLORS.get(widget.get("color") or "", "")
    line = f"{widget['title']}: {format_value(data.get('value'), widget.get('format'))}"
    return f"{mark} {line}" if mark else line


def _rows_lines(widget: Mapping[str, Any]) -> list[str]:
    data = widget["data"]
    measures = data.get("measures") or []
    lines = [f"{widget['title']}:"]
    for row in (data.get("rows") or [])[:ROWS_SHOWN]:
        values = ", ".join(
            f"{m['label']} {format_value(row['values'].get(m['key']), m['format'])}"
            for m in measures
        )
        lines.append(f"  {' / '.join(str(x) for x in row['label'])}: {values}")
    average = data.get("average")
    if average:
        values = ", ".join(
            f"{m['label']} {format_value(average['values'].get(m['key']), m['format'])}"
            for m in measures
        )
        lines.append(f"  {average['label']}: {values}")
    return lines


def render_text(figures: Mapping[str, Any], heading: str | None = None) -> str:
    """The report of :func:`~dajian.runtime.dashboards.compute.compute_dashboard`'s
    result (``heading`` replaces the dashboard's name as the first line)."""
    lines = [heading or figures["name"]]
    for widget in figures["widgets"]:
        if "error" in widget["data"]:
            lines.append(f"{widget['title']}: {NO_VALUE}")
        elif widget["type"] == "kpi":
            lines.append(_kpi_line(widget))
        else:
            lines.extend(_rows_lines(widget))
    return "\n".join(lines)
