"""The ``dajian`` console script: Django's management commands with our settings."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    """Run a management command, e.g. ``dajian migrate`` or ``dajian demo``."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dajian.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["dajian", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
