"""What workspace admins do with deliveries: read the log, edit the allow-list, rotate
the signing secret. Every function refuses non-admins with PERMISSION_DENIED and reads
or writes only the actor's workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.audit import record_event
from dajian.platform.errors import CommonErrorCode, DajianError, ErrorDetail, permission_denied
from dajian.runtime.deliveries import signing
from dajian.runtime.deliveries.errors import DeliveryErrorCode, delivery_error
from dajian.runtime.deliveries.ssrf import MAX_ALLOWLIST_ENTRIES, parse_entry
from dajian.runtime.models import Delivery, WebhookSettings
from dajian.runtime.paging import Page, newest_first


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise permission_denied("Only workspace admins manage webhooks and deliveries.")


def secret_hint(secret: str) -> str:
    """The start of a secret, enough to tell which one a receiver has."""
    return secret[:10] + "…"


def get_webhook_settings(actor: Actor) -> WebhookSettings:
    require_admin(actor)
    return signing.webhook_settings(actor.workspace)


def normalized_allowlist(entries: Sequence[Any]) -> list[str]:
    """The entries as stored (host names lower-case, addresses and networks in their
    canonical form, without repeats), or every bad entry as ``allowlist.N``."""
    if len(entries) > MAX_ALLOWLIST_ENTRIES:
        raise DajianError.single(
            CommonErrorCode.LIMIT_EXCEEDED,
            f"The allow-list has at most {MAX_ALLOWLIST_ENTRIES} entries.",
            field="allowlist",
        )
    errors: list[ErrorDetail] = []
    out: dict[str, None] = {}
    for index, entry in enumerate(entries):
        parsed = parse_entry(entry)
        if parsed is None:
            errors.append(
                delivery_error(
                    DeliveryErrorCode.INVALID_ALLOWLIST_ENTRY, f"allowlist.{index}", entry=entry
                )
            )
            continue
        is_single = not isinstance(parsed, str) and parsed.num_addresses == 1
        out[str(parsed.network_address if is_single else parsed)] = None  # type: ignore[union-attr]
    if errors:
        raise DajianError(errors)
    return list(out)


def save_allowlist(actor: Actor, entries: Sequence[Any]) -> WebhookSettings:
    """Replace the workspace's allow-list (audited)."""
    require_admin(actor)
    allowlist = normalized_allowlist(entries)
    with transaction.atomic():
        row = signing.webhook_settings(actor.workspace)
        row = WebhookSettings.objects.select_for_update().get(pk=row.pk)
        before = list(row.allowlist)
        row.allowlist = allowlist
        row.updated_at = timezone.now()
        row.save(update_fields=["allowlist", "updated_at"])
        record_event(
            actor,
            "webhook_settings.update",
            "WebhookSettings",
            row.pk,
            {"allowlist": [before, allowlist]},
        )
    return row


def rotate_webhook_secret(actor: Actor) -> str:
    """A new signing secret for the workspace (audited, the secret itself is not)."""
    require_admin(actor)
    with transaction.atomic():
        secret = signing.rotate_secret(actor.workspace)
        row = signing.webhook_settings(actor.workspace)
        record_event(actor, "webhook_settings.rotate_secret", "WebhookSettings", row.pk, {})
    return secret


def delivery_rows(actor: Actor) -> QuerySet[Delivery]:
    """The workspace's deliveries: every read of the log starts here."""
    require_admin(actor)
    return Delivery.objects.filter(workspace_id=actor.workspace.pk)


def list_deliveries(
    actor: Actor, status: str | None = None, first: int | None = None, after: str | None = None
) -> Page[Delivery]:
    """A page of the workspace's deliveries, newest first (``status`` filters).
    Refusals: PERMISSION_DENIED, LIMIT_EXCEEDED, INVALID_CURSOR."""
    qs = delivery_rows(actor).select_related("execution__automation")
    if status:
        qs = qs.filter(status=status)
    return newest_first(qs, "created_at", first, after)
