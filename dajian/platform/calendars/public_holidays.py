"""Public holidays and adjusted working weekends (调休) from the ``holidays`` library.

The library computes a country's year on demand; results are cached per (country, year)
for the life of the process because they only change with a library upgrade.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import holidays


@dataclass(frozen=True)
class YearDays:
    """One country's year: public holidays (incl. observed and substituted days off)
    and the weekend days that are working days by government adjustment."""

    holidays: frozenset[dt.date]
    weekend_workdays: frozenset[dt.date]


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    """Country codes the library knows (``CN``, ``US``, ``DE``…)."""
    return frozenset(holidays.list_supported_countries())


@lru_cache(maxsize=1024)
def year_days(country: str, year: int) -> YearDays:
    """The public holidays and adjusted working weekends of ``country`` in ``year``."""
    table = holidays.country_holidays(country, years=year)
    # ``weekend_workdays`` holds the adjusted weekends of every special year the library
    # knows, not only ``year``: keep this year's.
    workdays = getattr(table, "weekend_workdays", None) or ()
    return YearDays(
        holidays=frozenset(d for d in table if d.year == year),
        weekend_workdays=frozenset(d for d in workdays if d.year == year),
    )


def _library_language(country: str, locale: str) -> str | None:
    table = holidays.country_holidays(country)
    supported = set(table.supported_languages)
    wanted = ("zh_CN", "zh") if locale == "zh-CN" else ("en_US", "en")
    return next((lang for lang in wanted if lang in supported), None)


@lru_cache(maxsize=256)
def holiday_names(country: str, year: int, locale: str) -> Mapping[dt.date, str]:
    """``{date: name}`` of ``country``'s public holidays in ``year`` in ``locale``
    (``zh-CN`` or ``en``; the country's own language when the library lacks it)."""
    language = _library_language(country, locale)
    table = holidays.country_holidays(country, years=year, language=language)
    return {d: name for d, name in table.items() if d.year == year}
