"""Storing uploads (R2 evidence): everything but the original name is measured by the
server — size, SHA-256, sniffed type, upload time, pixel size, EXIF time and GPS."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dajian.platform.actors import Actor
from dajian.platform.audit import diff_values, format_utc, record_event
from dajian.platform.errors import DajianError, not_found
from dajian.platform.files.errors import AttachmentErrorCode, attachment_error
from dajian.platform.files.images import ImageInfo, inspect_image
from dajian.platform.files.sniff import sniff
from dajian.platform.models import Attachment

_UNSAFE_NAME_CHARS = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_name(name: str | None) -> str:
    """The client's file name without directories or control characters (display only)."""
    base = re.split(r"[/\\]", name or "")[-1]
    return _UNSAFE_NAME_CHARS.sub("", base).strip()[:255]


def _measure(file: UploadedFile, limit: int) -> tuple[int, str]:
    """Size and SHA-256 of the bytes, refusing empty files and files past ``limit``."""
    if file.size is not None and file.size > limit:
        raise _too_large(limit)
    digest = hashlib.sha256()
    size = 0
    for chunk in file.chunks():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        digest.update(chunk)
    file.seek(0)
    if size == 0:
        raise attachment_error(AttachmentErrorCode.EMPTY_FILE, _("The file is empty."))
    return size, digest.hexdigest()


def _too_large(limit: int) -> DajianError:
    return attachment_error(
        AttachmentErrorCode.FILE_TOO_LARGE,
        _("The file is larger than %(limit)s bytes.") % {"limit": limit},
    )


def store_upload(actor: Actor, uploaded_file: UploadedFile) -> Attachment:
    """Validate ``uploaded_file`` and store it as an attachment of ``actor.workspace``.

    Refuses with ``DajianError`` (codes in :class:`AttachmentErrorCode`): ``EMPTY_FILE``,
    ``FILE_TOO_LARGE`` (more than ``DAJIAN["MAX_UPLOAD_BYTES"]``),
    ``FILE_TYPE_NOT_ALLOWED`` (type sniffed from the bytes is off the allow-list),
    ``IMAGE_TOO_LARGE`` (more than ``DAJIAN["MAX_IMAGE_PIXELS"]``), ``FILE_CORRUPT``.
    The client's content type and extension are ignored. Writes an audit event
    ``attachment.upload`` in the same transaction.
    """
    limits = settings.DAJIAN
    size, sha256 = _measure(uploaded_file, limits["MAX_UPLOAD_BYTES"])
    file_type = sniff(uploaded_file)
    info = ImageInfo()
    if file_type.kind == "image":
        info = inspect_image(
            uploaded_file,
            file_type.content_type,
            max_pixels=limits["MAX_IMAGE_PIXELS"],
            time_zone=actor.workspace.time_zone,
        )
    attachment = Attachment(
        workspace=actor.workspace,
        uploaded_by=actor.user,
        original_name=clean_name(uploaded_file.name),
        content_type=file_type.content_type,
        kind=file_type.kind,
        size=size,
        sha256=sha256,
        uploaded_at=timezone.now(),
        width=info.width,
        height=info.height,
        captured_at=info.captured_at,
        gps=info.gps,
    )
    # The stored name is ours: the client's name never reaches the file system.
    stored_name = f"{uuid.uuid4().hex}{file_type.extension}"
    uploaded_file.seek(0)
    attachment.file.save(stored_name, uploaded_file, save=False)
    try:
        with transaction.atomic():
            attachment.save()
            record_event(
                actor,
                "attachment.upload",
                "attachment",
                attachment.pk,
                diff_values(
                    {},
                    {
                        "name": attachment.original_name,
                        "sha256": sha256,
                        "size": size,
                        "content_type": file_type.content_type,
                    },
                ),
            )
    except BaseException:
        attachment.file.delete(save=False)
        raise
    return attachment


def get_attachment(actor: Actor, attachment_id: Any) -> Attachment:
    """The attachment with this id in the actor's workspace; ``NOT_FOUND`` otherwise
    (attachments of other workspaces are indistinguishable from missing ones)."""
    try:
        pk = int(attachment_id)
    except (TypeError, ValueError):
        raise not_found("Attachment") from None
    attachment = Attachment.objects.filter(pk=pk, workspace=actor.workspace).first()
    if attachment is None:
        raise not_found("Attachment")
    return attachment


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    """The API shape of an attachment (camelCase, times as UTC ISO strings)."""
    return {
        "id": attachment.pk,
        "name": attachment.original_name,
        "contentType": attachment.content_type,
        "kind": attachment.kind,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploadedAt": format_utc(attachment.uploaded_at),
        "capturedAt": format_utc(attachment.captured_at) if attachment.captured_at else None,
        "gps": attachment.gps,
        "width": attachment.width,
        "height": attachment.height,
        "url": f"/api/uploads/{attachment.pk}/",
    }
