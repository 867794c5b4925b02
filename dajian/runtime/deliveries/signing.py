"""Standard Webhooks signatures of outgoing webhooks (https://www.standardwebhooks.com).

Every webhook carries ``webhook-id`` (the delivery's message id, the same on every
retry), ``webhook-timestamp`` (Unix seconds of this attempt) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed by the workspace secret).
A receiver verifies with any Standard Webhooks library:
``Webhook(secret).verify(body, headers)``.

The secret (``whsec_`` + base64 of 32 random bytes) is made on first use and replaced by
:func:`rotate_secret`; a rotation applies to every attempt from then on.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from dajian.platform.models import Workspace
from dajian.runtime.models import WebhookSettings


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def webhook_settings(workspace: Workspace | int) -> WebhookSettings:
    """The workspace's webhook settings, created (with a new secret) on first use."""
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    row, _ = WebhookSettings.objects.get_or_create(
        workspace_id=workspace_id, defaults={"secret": new_secret()}
    )
    return row


def rotate_secret(workspace: Workspace | int) -> str:
    """Replace the workspace's signing secret; returns the new one."""
    with transaction.atomic():
        row = webhook_settings(workspace)
        row = WebhookSettings.objects.select_for_update().get(pk=row.pk)
        row.secret = new_secret()
        row.updated_at = timezone.now()
        row.save(update_fields=["secret", "updated_at"])
    return row.secret


def signature_headers(secret: str, message_id: str, body: str, at: dt.datetime) -> dict[str, str]:
    """The three Standard Webhooks headers of ``body`` sent at ``at``."""
    at = at.astimezone(dt.UTC)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }
