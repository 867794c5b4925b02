"""``dajian uninstall-app APP [--workspace W] [--purge]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dajian.app_templates.cli import add_workspace_argument, command_error, workspace_actor
from dajian.app_templates.installer import uninstall_app
from dajian.platform.errors import DajianError


class Command(BaseCommand):
    help = (
        "Uninstall an app: archive it (records kept, automations stopped) or, with "
        "--purge, delete it with all its records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app", help="app key")
        add_workspace_argument(parser)
        parser.add_argument("--purge", action="store_true", help="delete records and metadata")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = workspace_actor(options["workspace"])
        try:
            uninstall_app(actor, options["app"], purge=options["purge"])
        except DajianError as exc:
            raise command_error(exc) from None
        done = "purged" if options["purge"] else "archived"
        self.stdout.write(f"{done}: {options['app']}")
