#!/usr/bin/env python3
"""Counts of pytest's JUnit XML reports as "N passed, N failed, N skipped".

``test_counts.py REPORT.xml`` prints one report's counts; ``--total`` prints the sum of
all as the closing line of ``make test`` ("total: N passed, N failed, N skipped");
errors count as failed. A missing or unreadable report counts nothing.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree


def counts(path: str) -> tuple[int, int, int]:
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return 0, 0, 0
    passed = failed = skipped = 0
    for suite in root.iter("testsuite"):
        tests, skips = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        failures = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        passed += tests - failures - skips
        failed += failures
        skipped += skips
    return passed, failed, skipped


def main(argv: list[str]) -> int:
    total = argv[:1] == ["--total"]
    paths = argv[1:] if total else argv
    passed = failed = skipped = 0
    for path in paths:
        p, f, s = counts(path)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    line = f"{passed} passed, {failed} failed, {skipped} skipped"
    sys.stdout.write(f"total: {line}\n" if total else f"{line}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
