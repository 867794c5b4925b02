"""Message templates: Jinja2's immutable sandbox, checks at save, rendering."""

from __future__ import annotations

from dajian.runtime.automations.templates import (
    MAX_TEMPLATE_CHARS,
    check_template,
    render,
    render_text,
    uses,
)

NAMES = frozenset({"name", "amount", "related"})


def test_values_render_and_whole_numbers_print_without_a_fraction():
    assert render(
        "{{ name }}: {{ amount }} / {{ rate }}", {"name": "华东", "amount": 650000.0, "rate": 2.5}
    ) == {
        "zh-CN": "华东: 650000 / 2.5",
        "en": "华东: 650000 / 2.5",
    }
    assert render(
        {"en": "{{ related.customer.level }}"}, {"related": {"customer": {"level": "A"}}}
    ) == {"en": "A"}


def test_a_missing_value_renders_empty():
    assert render_text("[{{ nothing }}][{{ related.customer.name }}]", {"related": {}}) == "[][]"


def test_the_sandbox_refuses_python_internals():
    text = render_text("{{ ().__class__.__bases__[0].__subclasses__() }}", {})
    assert text.startswith("[template error:") and "unsafe" in text
    # unsafe attributes read as undefined: nothing of the interpreter leaks out
    assert (
        render_text("{{ name.upper.__globals__ }}{{ name.__class__.__mro__ }}", {"name": "x"}) == ""
    )


def test_unknown_names_and_syntax_errors_are_refused_at_save_with_their_path():
    errors = check_template(
        {"zh-CN": "{{ nickname }}", "en": "{% if %}"}, "actions.0.message", NAMES
    )
    assert [(e.code, e.path) for e in errors] == [
        ("UNKNOWN_REFERENCE", "actions.0.message.zh-CN"),
        ("INVALID_TEMPLATE", "actions.0.message.en"),
    ]
    assert check_template("{{ name }} {{ related.customer.level }}", "m", NAMES) == []
    assert check_template(42, "m", NAMES)[0].code == "INVALID_TEMPLATE"


def test_templates_are_limited_in_length():
    at_limit = "x" * MAX_TEMPLATE_CHARS
    assert check_template(at_limit, "m", NAMES) == []
    assert check_template(at_limit + "x", "m", NAMES)[0].code == "LIMIT_EXCEEDED"


def test_uses_tells_whether_a_template_reads_a_variable():
    assert uses({"en": "{% for r in records %}{{ r.name }}{% endfor %}"}, "records")
    assert not uses("{{ count }} records", "records")
