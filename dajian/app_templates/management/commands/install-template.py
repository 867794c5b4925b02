"""``dajian install-template KEY [--workspace W] [--sample-data] [--records N]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dajian.app_templates.cli import (
    add_workspace_argument,
    command_error,
    report_lines,
    workspace_actor,
)
from dajian.app_templates.installer import install_template
from dajian.platform.errors import DajianError


class Command(BaseCommand):
    help = "Install an app template (or upgrade the installed app to it) and print the report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="template key, e.g. b2b_sales")
        add_workspace_argument(parser)
        parser.add_argument("--sample-data", action="store_true", help="add sample records")
        parser.add_argument("--records", type=int, default=None, help="how many sample records")
        parser.add_argument("--seed", type=int, default=2024, help="sample data seed")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["records"] is not None and options["records"] < 0:
            raise CommandError("--records must be 0 or more.")
        actor = workspace_actor(options["workspace"])
        try:
            report = install_template(
                actor,
                options["key"],
                sample_data=options["sample_data"] or options["records"] is not None,
                records=options["records"],
                seed=options["seed"],
            )
        except DajianError as exc:
            raise command_error(exc) from None
        for line in report_lines(report.as_dict()):
            self.stdout.write(line)
