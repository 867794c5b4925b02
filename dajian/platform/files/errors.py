"""Error codes of uploads; raised as :class:`~dajian.platform.errors.DajianError`."""

from __future__ import annotations

from enum import StrEnum

from dajian.platform.errors import DajianError


class AttachmentErrorCode(StrEnum):
    EMPTY_FILE = "EMPTY_FILE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    FILE_TYPE_NOT_ALLOWED = "FILE_TYPE_NOT_ALLOWED"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    FILE_CORRUPT = "FILE_CORRUPT"


def attachment_error(code: AttachmentErrorCode, message: str) -> DajianError:
    """An upload refusal; the problem is always the ``file`` field."""
    return DajianError.single(code, message, field="file")
