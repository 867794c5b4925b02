"""``dajian create-token --user U --workspace W``: print a new API token, and only it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from dajian.platform.models import Membership, Workspace
from dajian.platform.tokens import issue_token


class Command(BaseCommand):
    help = "Issue an API token acting as USER in WORKSPACE; prints only the token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="username")
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--name", default="", help="a label to recognise the token by")
        parser.add_argument(
            "--expires-days", type=int, default=None, help="days until the token expires"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: options["user"]}).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user {options['user']!r}.")
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace {options['workspace']!r}.")
        if not Membership.objects.filter(workspace=workspace, user=user, is_active=True).exists():
            raise CommandError(f"{options['user']!r} is not a member of {workspace.slug!r}.")
        days = options["expires_days"]
        if days is not None and days <= 0:
            raise CommandError("--expires-days must be a positive number of days.")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        _, plain = issue_token(user, workspace, name=options["name"], expires_at=expires_at)
        self.stdout.write(plain)
