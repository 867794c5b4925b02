"""API tokens: ``dj_<prefix>_<secret>``; only the SHA-256 of the whole token is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone

from dajian.platform.actors import Actor
from dajian.platform.models import ApiToken, Membership, Workspace

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


_ACTOR_SQL = """
SELECT t.id, u.id, u.username, u.first_name, u.last_name, w.id, w.slug, w.name, w.time_zone,
       m.id, m.is_admin, m.org_unit_id, r.key,
       CASE WHEN t.last_used_at IS NULL OR t.last_used_at < %s THEN 1 ELSE 0 END
FROM platform_apitoken t
JOIN auth_user u ON u.id = t.user_id AND u.is_active
JOIN platform_workspace w ON w.id = t.workspace_id
JOIN platform_membership m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id
     AND m.is_active
LEFT JOIN platform_membership_roles mr ON mr.membership_id = m.id
LEFT JOIN platform_role r ON r.id = mr.role_id
WHERE t.token_hash = %s AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > %s)
"""


def actor_for_token(plain: str) -> Actor | None:
    """The actor a live token acts as (its user in its workspace), or None.

    A token is live when it is not revoked or expired and its user is active and still a
    member of its workspace. One query (token, user, workspace, membership, roles): every
    API request pays for it, so it is written out in SQL.
    """
    if not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _ACTOR_SQL, [adapt(now - timedelta(seconds=60)), hash_token(plain), adapt(now)]
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    (token_id, user_id, username, first, last, ws_id, slug, ws_name, tz,
     membership_id, is_admin, org_unit_id, _, stale) = rows[0]  # fmt: skip
    if stale:
        # Written at most once a minute so a busy integration does not write per request.
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    user = User(pk=user_id, username=username, first_name=first, last_name=last, is_active=True)
    workspace = Workspace(pk=ws_id, slug=slug, name=ws_name, time_zone=tz)
    membership = Membership(
        pk=membership_id,
        workspace=workspace,
        user=user,
        is_admin=bool(is_admin),
        org_unit_id=org_unit_id,
    )
    return Actor(
        workspace=workspace,
        user=user,
        membership=membership,
        roles=frozenset(row[12] for row in rows if row[12]),
        is_admin=bool(is_admin),
    )
