"""``dajian export-app APP [--workspace W] --out DIR``: write an app as a bundle."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dajian.app_templates.cli import add_workspace_argument, command_error, workspace_actor
from dajian.app_templates.installer import export_app
from dajian.platform.errors import DajianError


class Command(BaseCommand):
    help = "Write the published state of an app as a bundle folder that import-app installs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app", help="app key")
        add_workspace_argument(parser)
        parser.add_argument("--out", required=True, help="bundle folder to write")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = workspace_actor(options["workspace"])
        try:
            bundle = export_app(actor, options["app"])
            path = bundle.write(options["out"])
        except DajianError as exc:
            raise command_error(exc) from None
        self.stdout.write(f"exported {bundle.key} {bundle.version} to {path}")
        self.stdout.write(f"  hash: {bundle.hash}")
        self.stdout.write(f"  documents: {len(bundle.documents)}")
