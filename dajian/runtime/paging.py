"""Pages of a list: cursors, page sizes and newest-first keyset pagination, shared by
records, the inbox, approval requests and notifications."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime

from dajian.platform.errors import CommonErrorCode, DajianError

DEFAULT_PAGE = 20
T = TypeVar("T")
M = TypeVar("M", bound=Model)


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode()


def invalid_cursor() -> DajianError:
    return DajianError.single("INVALID_CURSOR", "The cursor is not valid.", field="after")


def decode_cursor(cursor: str) -> list[Any]:
    """The values of a cursor made by :func:`encode_cursor`, or INVALID_CURSOR."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        values = None
    if not isinstance(values, list) or not values:
        raise invalid_cursor()
    return values


def page_size(first: int | None, minimum: int = 1) -> int:
    """``first`` (default 20) within ``minimum``..MAX_PAGE_SIZE, or LIMIT_EXCEEDED."""
    limit = DEFAULT_PAGE if first is None else first
    max_page = settings.DAJIAN["MAX_PAGE_SIZE"]
    if not minimum <= limit <= max_page:
        raise DajianError.single(
            CommonErrorCode.LIMIT_EXCEEDED,
            f"first must be between {minimum} and {max_page}.",
            field="first",
        )
    return limit


@dataclass
class Page(Generic[T]):
    """One page of ``items`` with a cursor per item, as a Relay connection shows it."""

    items: list[T]
    cursors: list[str]
    has_next: bool
    has_previous: bool
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def start_cursor(self) -> str | None:
        return self.cursors[0] if self.cursors else None

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def newest_first(qs: QuerySet[M], time_field: str, first: int | None, after: str | None) -> Page[M]:
    """A page of ``qs`` ordered by ``-time_field, -id`` with keyset cursors on that pair
    (one query; an index on the pair, after the filters, serves it)."""
    limit = page_size(first)
    if after:
        values = decode_cursor(after)
        at = parse_datetime(values[0]) if isinstance(values[0], str) else None
        if at is None or len(values) != 2 or not isinstance(values[1], int):
            raise invalid_cursor()
        qs = qs.filter(Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "id__lt": values[1]}))
    rows = list(qs.order_by(f"-{time_field}", "-id")[: limit + 1])
    return Page(
        items=rows[:limit],
        cursors=[encode_cursor([getattr(r, time_field).isoformat(), r.pk]) for r in rows[:limit]],
        has_next=len(rows) > limit,
        has_previous=bool(after),
    )
