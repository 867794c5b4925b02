"""E-mail addresses."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from dajian.builder.fields._scalar import TEXT_OPS, halfwidth
from dajian.builder.fields.base import FieldValueError
from dajian.builder.fields.registry import register
from dajian.builder.fields.text import TextField

MAX_EMAIL = 254  # RFC 5321 path limit
_validate = EmailValidator()


@register
class EmailField(TextField):
    """An e-mail address checked by Django's ``EmailValidator``, stored trimmed with the
    domain lower-cased (the local part keeps its case). At most 254 characters."""

    type = "email"
    label = {"zh-CN": "邮箱", "en": "E-mail"}
    filter_ops = TEXT_OPS
    options_schema = {"type": "object", "properties": {"placeholder": {"$ref": "#/$defs/text"}}}
    default_max_length = MAX_EMAIL

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "email", "maxLength": MAX_EMAIL}

    def ui_hints(self) -> dict[str, Any]:
        return {**super().ui_hints(), "widget": "email", "inputMode": "email"}

    def clean(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldValueError("INVALID_TYPE", "Expected an e-mail address.")
        value = value.strip()
        if len(value) > MAX_EMAIL:
            raise FieldValueError(
                "TOO_LONG", f"At most {MAX_EMAIL} characters.", max_length=MAX_EMAIL
            )
        try:
            _validate(value)
        except ValidationError as exc:
            raise FieldValueError("INVALID_FORMAT", "Not a valid e-mail address.") from exc
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    def filter_value(self, op: str, value: Any) -> Any:
        # Parts of an address ("@acme.com") are searched as typed.
        if op in ("contains", "icontains", "startswith"):
            if not isinstance(value, str) or not value.strip():
                raise FieldValueError("INVALID_TYPE", "Expected text to search for.")
            return value.strip()
        return super().filter_value(op, value)

    def from_cell(self, cell: Any) -> Any:
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        text = halfwidth(str(cell))
        return self.clean(text[7:] if text.lower().startswith("mailto:") else text)

    def example_value(self, faker: Any) -> Any:
        return self.clean(faker.email())
