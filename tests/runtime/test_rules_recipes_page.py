"""docs/automation-recipes.md shows exactly the documents the R19–R22 scenario tests
(``tests/runtime/test_rules_*.py``) save, publish and run."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.runtime.rules_scenarios import (
    CHURN_WARNING,
    CUSTOMER,
    DUPLICATE_NOTES,
    FOLLOW_UP,
    HEALTH_ALERT,
    INCENTIVE,
    KA_FIRST_ORDER,
    LAST_CONTACT,
    LEAD,
    MONTHLY_REBATE,
    ORDER,
    ORDER_COUNT,
    PROJECT,
    PURCHASES_12M,
    REBATE_FIELDS,
    REBATE_ORDER,
    SILENT_30,
    SILENT_45,
    STALE_LEADS,
    VISIT,
    VISITS_THIS_MONTH,
    as_saved,
)

RECIPES_PAGE = Path(__file__).resolve().parents[2] / "docs" / "automation-recipes.md"
SHOWN = {
    "CUSTOMER": CUSTOMER,
    "ORDER": ORDER,
    "ORDER_COUNT": ORDER_COUNT,
    "INCENTIVE": INCENTIVE,
    "KA_FIRST_ORDER": KA_FIRST_ORDER,
    "REBATE_FIELDS": REBATE_FIELDS,
    "REBATE_ORDER": REBATE_ORDER,
    "PURCHASES_12M": PURCHASES_12M,
    "MONTHLY_REBATE": MONTHLY_REBATE,
    "PROJECT": PROJECT,
    "HEALTH_ALERT": HEALTH_ALERT,
    "VISIT": VISIT,
    "VISITS_THIS_MONTH": VISITS_THIS_MONTH,
    "CHURN_WARNING": CHURN_WARNING,
    "LEAD": LEAD,
    "STALE_LEADS": STALE_LEADS,
    "LAST_CONTACT": LAST_CONTACT,
    "SILENT_30": SILENT_30,
    "SILENT_45": SILENT_45,
    "FOLLOW_UP": FOLLOW_UP,
    "DUPLICATE_NOTES": DUPLICATE_NOTES,
}


def test_the_recipes_page_shows_the_documents_tested_here():
    text = RECIPES_PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- recipe: (\w+) -->\n```json\n(.*?)\n```", text, re.S)

    shown = {name: json.loads(body) for name, body in blocks}

    assert shown == {name: as_saved(value) for name, value in SHOWN.items()}
