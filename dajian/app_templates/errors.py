"""Error codes of app templates (bundles, the installer, sample data) and their
localised messages. Errors inside a bundle name the document and the path in it:
``forms/customer.json: fields.3.type``."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from dajian.platform.errors import ErrorDetail
from dajian.platform.i18n import format_message


class TemplateErrorCode(StrEnum):
    INVALID_JSON = "INVALID_JSON"
    INVALID_MANIFEST = "INVALID_MANIFEST"
    MISSING_FILE = "MISSING_FILE"
    UNLISTED_FILE = "UNLISTED_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    BUNDLE_TOO_LARGE = "BUNDLE_TOO_LARGE"
    KEY_MISMATCH = "KEY_MISMATCH"
    UNLISTED_FORM = "UNLISTED_FORM"
    UNLISTED_ROLE = "UNLISTED_ROLE"
    FIXED_USER = "FIXED_USER"
    INVALID_SAMPLE = "INVALID_SAMPLE"
    TEMPLATE_CONFLICT = "TEMPLATE_CONFLICT"
    CONCURRENT_INSTALL = "CONCURRENT_INSTALL"
    SAMPLE_DATA_FAILED = "SAMPLE_DATA_FAILED"


MESSAGES: dict[str, dict[str, str]] = {
    "INVALID_JSON": {"en": "Not valid JSON: {detail}", "zh-CN": "不是有效的 JSON：{detail}"},
    "MISSING_FILE": {
        "en": "The manifest lists {name}, which is missing.",
        "zh-CN": "清单列出的 {name} 不存在。",
    },
    "UNLISTED_FILE": {
        "en": "{name} is not listed in the manifest.",
        "zh-CN": "{name} 未在清单中列出。",
    },
    "FILE_TOO_LARGE": {
        "en": "The file is larger than {limit} bytes.",
        "zh-CN": "文件超过 {limit} 字节。",
    },
    "BUNDLE_TOO_LARGE": {
        "en": "The bundle is larger than {limit}.",
        "zh-CN": "模板包超过上限 {limit}。",
    },
    "KEY_MISMATCH": {
        "en": "The document's {name} is {found!r}, its file name says {expected!r}.",
        "zh-CN": "文档的 {name} 为 {found}，与文件名 {expected} 不一致。",
    },
    "UNLISTED_FORM": {
        "en": "Form {key!r} is not one of the bundle's forms.",
        "zh-CN": "表单 {key} 不在模板包的表单列表中。",
    },
    "UNLISTED_ROLE": {
        "en": "Role {key!r} is not listed in the manifest's roles.",
        "zh-CN": "角色 {key} 未在清单的角色中列出。",
    },
    "FIXED_USER": {
        "en": "Templates name roles, never fixed users.",
        "zh-CN": "模板只能引用角色，不能指定具体用户。",
    },
    "INVALID_SAMPLE": {"en": "Invalid sample rows: {detail}", "zh-CN": "示例数据无效：{detail}"},
    "TEMPLATE_CONFLICT": {
        "en": "App {key!r} exists and was not installed from this template.",
        "zh-CN": "应用 {key} 已存在，且不是由此模板安装的。",
    },
    "CONCURRENT_INSTALL": {
        "en": "App {key!r} is being installed by someone else; try again.",
        "zh-CN": "应用 {key} 正在被他人安装，请稍后重试。",
    },
    "SAMPLE_DATA_FAILED": {
        "en": "Sample data for form {form!r} could not be generated: {detail}",
        "zh-CN": "无法为表单 {form} 生成示例数据：{detail}",
    },
}


def template_error(code: str, document: str, inner: str = "", **params: Any) -> ErrorDetail:
    """An error of ``document`` (a bundle path such as ``forms/customer.json``) at the
    dotted ``inner`` path inside it."""
    text = format_message(MESSAGES, str(code), **params)
    return ErrorDetail(code=str(code), message=text, field=document, path=at(document, inner))


def at(document: str, inner: str | None) -> str:
    """``forms/customer.json: fields.3.type`` (the document alone when ``inner`` is empty)."""
    return f"{document}: {inner}" if inner else document


def in_document(document: str, errors: Iterable[ErrorDetail]) -> list[ErrorDetail]:
    """Service errors about one document, re-addressed to that document of the bundle."""
    return [
        ErrorDetail(code=e.code, message=e.message, field=document, path=at(document, e.path))
        for e in errors
    ]
