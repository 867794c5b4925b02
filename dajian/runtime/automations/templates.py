"""Message templates of automation actions, rendered by Jinja2's immutable sandbox.

A template is a string or a ``{locale: string}`` map (``zh-CN``, ``en``). Variables are
the record's fields by key, ``record`` (system values), ``now``, rollups, ``related``
(records that single-relation fields point at) and ``url``. The sandbox refuses
attribute access to Python internals and any mutation; templates are limited in size
and so is what they render. A name that is none of these variables is refused when the
automation is saved (:func:`check_template`); at run time a missing value renders empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dajian.platform.errors import ErrorDetail

MAX_TEMPLATE_CHARS = 4000
MAX_RENDERED_CHARS = 20_000


def _finalize(value: Any) -> Any:
    """How a ``{{ value }}`` prints: whole numbers without ``.0`` (CEL holds numbers as
    doubles, so an amount of 650000 arrives as 650000.0)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


_env = ImmutableSandboxedEnvironment(
    autoescape=False,
    undefined=ChainableUndefined,
    keep_trailing_newline=False,
    finalize=_finalize,
)

Template = str | Mapping[str, str]


def _sources(template: Template) -> list[tuple[str, str]]:
    """(path suffix, source) of each text of a template."""
    if isinstance(template, str):
        return [("", template)]
    return [(f".{locale}", text) for locale, text in template.items()]


def check_template(template: Any, path: str, names: frozenset[str]) -> list[ErrorDetail]:
    """Problems with a template: not text, too long, a syntax error (with its line) or
    a variable that is not one of ``names``."""
    field = path.split(".")[0]
    if not isinstance(template, str) and not (
        isinstance(template, Mapping) and all(isinstance(v, str) for v in template.values())
    ):
        return [
            ErrorDetail(
                "INVALID_TEMPLATE", "A template is text or a {locale: text} map.", field, path
            )
        ]
    errors = []
    for suffix, source in _sources(template):
        where = path + suffix
        if len(source) > MAX_TEMPLATE_CHARS:
            errors.append(
                ErrorDetail(
                    "LIMIT_EXCEEDED",
                    f"A template has at most {MAX_TEMPLATE_CHARS} characters.",
                    field,
                    where,
                )
            )
            continue
        try:
            parsed = _env.parse(source)
        except TemplateSyntaxError as exc:
            errors.append(
                ErrorDetail(
                    "INVALID_TEMPLATE",
                    f"Template error at line {exc.lineno}: {exc.message}",
                    field,
                    where,
                )
            )
            continue
        for name in sorted(meta.find_undeclared_variables(parsed) - names):
            errors.append(
                ErrorDetail(
                    "UNKNOWN_REFERENCE",
                    f"The template uses {name!r}, which is not a field.",
                    field,
                    where,
                )
            )
    return errors


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    return _env.from_string(source)


def render_text(source: str, variables: Mapping[str, Any]) -> str:
    """One text rendered; a template that fails at run time renders as its error."""
    try:
        text = str(_compiled(source).render(**variables))
    except TemplateError as exc:
        return f"[template error: {exc}]"
    return text[:MAX_RENDERED_CHARS]


def render(template: Template, variables: Mapping[str, Any]) -> dict[str, str]:
    """A ``{locale: text}`` map (a plain string template renders for every locale)."""
    if isinstance(template, str):
        text = render_text(template, variables)
        return {"zh-CN": text, "en": text}
    return {locale: render_text(source, variables) for locale, source in template.items()}


def pick(message: Mapping[str, str], locale: str = "zh-CN") -> str:
    """The text of one locale (falling back to any) for channels without locales."""
    return message.get(locale) or message.get("en") or next(iter(message.values()), "")


@lru_cache(maxsize=512)
def _names(source: str) -> frozenset[str]:
    try:
        return frozenset(meta.find_undeclared_variables(_env.parse(source)))
    except TemplateSyntaxError:
        return frozenset()


def uses(template: Template, name: str) -> bool:
    """Whether any text of ``template`` reads the variable ``name`` (so a caller can
    skip building a costly one, like a digest's list of records)."""
    return any(name in _names(source) for _, source in _sources(template))
