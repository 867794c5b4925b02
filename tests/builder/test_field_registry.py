"""The field-type registry: every R1 type is registered, a clash is a system-check error."""

from __future__ import annotations

import pytest

from dajian.builder.fields import registry
from dajian.builder.fields.base import FieldType

R1_TYPES = {
    "text",
    "long_text",
    "number",
    "money",
    "percent",
    "date",
    "datetime",
    "boolean",
    "single_select",
    "multi_select",
    "user",
    "department",
    "relation",
    "subtable",
    "attachment",
    "photo",
    "audio",
    "signature",
    "location",
    "formula",
    "rollup",
    "autonumber",
    "email",
    "phone",
    "url",
    "rating",
}


def test_every_r1_type_is_registered():
    assert set(registry.type_names()) == R1_TYPES


@pytest.fixture
def clean_conflicts():
    before = list(registry._conflicts)
    yield
    registry._conflicts[:] = before


def test_registering_a_type_twice_is_a_system_check_error(clean_conflicts):
    assert registry.check_registry() == []

    class AnotherText(FieldType):
        type = "text"

    registry.register(AnotherText)
    errors = registry.check_registry()
    assert [e.id for e in errors] == ["dajian.E001"]
    assert "text" in errors[0].msg
    assert registry.get("text") is not AnotherText  # the first registration stays
