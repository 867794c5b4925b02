"""Consumers of outbox events (webhooks and automations register here in later issues)."""

from __future__ import annotations

from collections.abc import Callable

from dajian.runtime.models import OutboxEvent

Consumer = Callable[[OutboxEvent], None]
_consumers: list[Consumer] = []


def register(consumer: Consumer) -> None:
    if consumer not in _consumers:
        _consumers.append(consumer)


def consumers() -> list[Consumer]:
    return list(_consumers)
