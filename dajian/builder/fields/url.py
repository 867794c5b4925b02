"""Web addresses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from dajian.builder.fields._scalar import TEXT_OPS, halfwidth
from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.registry import register
from dajian.builder.fields.text import TextField

MAX_URL = 2048
_validate = URLValidator(schemes=["http", "https"])


@register
class UrlField(TextField):
    """An ``http``/``https`` address with a host, checked by Django's ``URLValidator``;
    stored trimmed with scheme and host lower-cased. At most 2,048 characters."""

    type = "url"
    label = {"zh-CN": "网址", "en": "URL"}
    filter_ops = TEXT_OPS
    options_schema = {"type": "object", "properties": {"placeholder": {"$ref": "#/$defs/text"}}}
    default_max_length = MAX_URL

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "uri", "maxLength": MAX_URL}

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "widget": "url", "inputMode": "url"}

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected a web address.")
        value = value.strip()
        if len(value) > MAX_URL:
            raise FieldValueError("TOO_LONG", f"At most {MAX_URL} characters.", max_length=MAX_URL)
        try:
            _validate(value)
        except ValidationError as exc:
            raise FieldValueError(
                "INVALID_FORMAT", "Expected an http:// or https:// address with a host."
            ) from exc
        parts = urlsplit(value)
        return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=_lower_host(parts)))

    def filter_value(self, op: str, value: Any) -> Any:
        if op in ("contains", "icontains", "startswith"):
            if not isinstance(value, str) or not value.strip():
                raise FieldValueError("INVALID_TYPE", "Expected text to search for.")
            return value.strip()
        return super().filter_value(op, value)

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        return self.clean(halfwidth(str(cell)))

    def example_value(self, faker: Any) -> Any:
        return self.clean(faker.url())


def _lower_host(parts: Any) -> str:
    """``user:Secret@Example.COM:8080`` → ``user:Secret@example.com:8080``."""
    userinfo, at, hostport = parts.netloc.rpartition("@")
    return f"{userinfo}{at}{hostport.lower()}"
