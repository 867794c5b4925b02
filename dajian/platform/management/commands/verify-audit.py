"""``dajian verify-audit [--workspace SLUG]``: check every audit hash chain."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dajian.platform.audit import verify_chain
from dajian.platform.models import Workspace


class Command(BaseCommand):
    help = "Recompute the audit log hash chains; exit non-zero when one is broken."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", help="only this workspace (slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        workspaces = Workspace.objects.order_by("slug")
        if options["workspace"]:
            workspaces = workspaces.filter(slug=options["workspace"])
            if not workspaces.exists():
                raise CommandError(f"No workspace {options['workspace']!r}.")
        broken = 0
        for workspace in workspaces.iterator():
            result = verify_chain(workspace)
            if result.ok:
                self.stdout.write(f"{workspace.slug}: ok, {result.checked} events")
            else:
                broken += 1
                self.stdout.write(
                    f"{workspace.slug}: BROKEN at event {result.first_bad_seq}: {result.reason}"
                    f" ({result.checked} events verified before it)"
                )
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken.")
