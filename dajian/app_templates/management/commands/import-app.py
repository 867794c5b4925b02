"""``dajian import-app DIR [--workspace W]``: install a bundle folder (``export-app``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dajian.app_templates.cli import (
    add_workspace_argument,
    command_error,
    report_lines,
    workspace_actor,
)
from dajian.app_templates.installer import install_bundle, load_bundle
from dajian.platform.errors import DajianError


class Command(BaseCommand):
    help = "Install the app bundle in DIR (as written by export-app) and print the report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dir", help="the bundle folder")
        add_workspace_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        actor = workspace_actor(options["workspace"])
        try:
            bundle = load_bundle(Path(options["dir"]).resolve())
            report = install_bundle(actor, bundle)
        except DajianError as exc:
            raise command_error(exc) from None
        for line in report_lines(report.as_dict()):
            self.stdout.write(line)
