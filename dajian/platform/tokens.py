"""API tokens: ``dj_<prefix>_<secret>``; only the SHA-256 of the whole token is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from dajian.platform.models import ApiToken, Workspace

TOKEN_PREFIX = "dj_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    user: User,
    workspace: Workspace,
    name: str = "",
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; the plain text is returned once and never stored."""
    prefix = secrets.token_hex(4)
    plain = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        workspace=workspace,
        user=user,
        name=name,
        prefix=prefix,
        token_hash=hash_token(plain),
        expires_at=expires_at,
    )
    return token, plain


def authenticate_token(plain: str) -> ApiToken | None:
    """The live token matching ``plain`` (not revoked, not expired), else None."""
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user", "workspace")
        .filter(token_hash=hash_token(plain), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        # Written at most once a minute so a busy integration does not write per request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
