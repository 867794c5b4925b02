"""What the app-template management commands share: the workspace they act in (as the
system, with a workspace admin's rights) and how they print errors and reports."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from dajian.platform.actors import Actor
from dajian.platform.errors import DajianError
from dajian.platform.models import Workspace


def add_workspace_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--workspace",
        help="workspace slug (default: the only workspace, else 'demo')",
    )


def workspace_actor(slug: str | None) -> Actor:
    """The system actor of the named workspace, or of the only one there is."""
    if slug:
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise CommandError(f"No workspace {slug!r}.")
        return Actor.system(workspace)
    workspaces = list(Workspace.objects.order_by("slug")[:2])
    if len(workspaces) == 1:
        return Actor.system(workspaces[0])
    demo = Workspace.objects.filter(slug="demo").first()
    if demo is not None:
        return Actor.system(demo)
    raise CommandError("Name the workspace with --workspace.")


def command_error(exc: DajianError) -> CommandError:
    """A refusal as a command error listing every problem, one per line."""
    lines = [
        f"{e.code} at {e.path}: {e.message}" if e.path else f"{e.code}: {e.message}"
        for e in exc.errors
    ]
    return CommandError("\n".join(lines))


def report_lines(report: dict[str, Any]) -> list[str]:
    """An install report as the commands print it."""
    lines = [f"{report['action']}: {report['app']}"]
    for name in ("added", "changed", "removed", "kept", "roles"):
        if report[name]:
            lines.append(f"  {name}: {', '.join(report[name])}")
    lines.append(f"  unchanged: {len(report['unchanged'])} document(s)")
    lines.append(f"  records: {report['records']}")
    return lines
