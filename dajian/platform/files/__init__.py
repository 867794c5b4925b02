"""Uploaded files: type sniffing, image checks and EXIF, storage (see ``service``)."""

from dajian.platform.files.errors import AttachmentErrorCode
from dajian.platform.files.images import ImageInfo, inspect_image
from dajian.platform.files.service import (
    attachment_json,
    clean_name,
    get_attachment,
    store_upload,
)
from dajian.platform.files.sniff import ALLOWED_TYPES, FileType, sniff

__all__ = [
    "ALLOWED_TYPES",
    "AttachmentErrorCode",
    "FileType",
    "ImageInfo",
    "attachment_json",
    "clean_name",
    "get_attachment",
    "inspect_image",
    "sniff",
    "store_upload",
]
