"""HTTP endpoints of the platform: file upload and download.

``POST /api/uploads/`` (multipart field ``file``) and ``GET /api/uploads/<id>/``.
Callers authenticate with the session cookie (CSRF enforced) or
``Authorization: Bearer <token>`` (no CSRF: a cross-site form cannot send that header).
Errors are JSON ``{"errors": [{field, path, code, message}]}``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from dajian.platform.actors import Actor
from dajian.platform.errors import CommonErrorCode, DajianError, ErrorDetail
from dajian.platform.files import (
    AttachmentErrorCode,
    attachment_json,
    get_attachment,
    store_upload,
)

# Multipart boundaries and part headers around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
_INLINE_KINDS = {"image", "audio", "video"}


def _errors(status: int, *details: ErrorDetail) -> JsonResponse:
    return JsonResponse({"errors": [d.as_dict() for d in details]}, status=status)


def _error(status: int, code: str, message: str, field: str | None = None) -> JsonResponse:
    return _errors(status, ErrorDetail(code=str(code), message=message, field=field, path=field))


def _unauthenticated() -> JsonResponse:
    return _error(401, CommonErrorCode.UNAUTHENTICATED, _("Sign in or send an API token."))


def _method_not_allowed(allowed: str) -> JsonResponse:
    response = _error(405, CommonErrorCode.INVALID_INPUT, _("Method not allowed."))
    response["Allow"] = allowed
    return response


def _file_too_large() -> JsonResponse:
    limit = settings.DAJIAN["MAX_UPLOAD_BYTES"]
    return _error(
        413,
        AttachmentErrorCode.FILE_TOO_LARGE,
        _("The file is larger than %(limit)s bytes.") % {"limit": limit},
        field="file",
    )


def _request_actor(request: HttpRequest) -> Actor | None:
    # request.actor is a lazy object wrapping None for anonymous callers and non-members.
    actor = getattr(request, "actor", None)
    return actor if actor else None


class _SizeLimitHandler(FileUploadHandler):
    """Stops reading a file part once it passes the limit, so an oversized upload never
    lands on disk; the service re-checks the exact size of what was kept."""

    def __init__(self, limit: int, request: HttpRequest | None = None):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received = start + len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _csrf_protected(request: HttpRequest) -> HttpResponse:
    # Stands in for the view in the CSRF check: unlike ``uploads`` it is not exempt.
    return HttpResponse()


def _csrf_failed(request: HttpRequest) -> bool:
    """Session callers must send the CSRF token (header or form field)."""
    middleware = CsrfViewMiddleware(_csrf_protected)
    return middleware.process_view(request, _csrf_protected, (), {}) is not None


@csrf_exempt  # CSRF is checked below, for session callers only
def uploads(request: HttpRequest) -> HttpResponse:
    """``POST /api/uploads/``: store the ``file`` part; 201 with ``{"attachment": ...}``."""
    if request.method != "POST":
        return _method_not_allowed("POST")
    actor = _request_actor(request)
    if actor is None:
        return _unauthenticated()
    limit = settings.DAJIAN["MAX_UPLOAD_BYTES"]
    try:
        content_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        content_length = 0
    if content_length > limit + _MULTIPART_OVERHEAD:
        return _file_too_large()
    # The handler must be installed before anything reads the body, CSRF included.
    handler = _SizeLimitHandler(limit, request)
    request.upload_handlers.insert(0, handler)
    if not getattr(request, "is_token_auth", False) and _csrf_failed(request):
        return _error(403, CommonErrorCode.PERMISSION_DENIED, _("CSRF verification failed."))
    uploaded = request.FILES.get("file")
    if uploaded is None:
        if handler.exceeded:
            return _file_too_large()
        return _error(
            400, CommonErrorCode.INVALID_INPUT, _("Send the file in the 'file' field."), "file"
        )
    try:
        attachment = store_upload(actor, uploaded)
    except DajianError as exc:
        too_large = any(e.code == AttachmentErrorCode.FILE_TOO_LARGE for e in exc.errors)
        return _errors(413 if too_large else 400, *exc.errors)
    return JsonResponse({"attachment": attachment_json(attachment)}, status=201)


def upload_detail(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    """``GET /api/uploads/<id>/``: the file, for members of its workspace only (404 for
    everyone else, so ids of other workspaces reveal nothing)."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET, HEAD")
    actor = _request_actor(request)
    if actor is None:
        return _unauthenticated()
    try:
        attachment = get_attachment(actor, attachment_id)
        stream = attachment.file.open("rb")
    except DajianError as exc:
        return _errors(404, *exc.errors)
    except FileNotFoundError:
        return _error(404, CommonErrorCode.NOT_FOUND, _("Attachment not found."))
    response = FileResponse(
        stream,
        content_type=attachment.content_type,
        as_attachment=attachment.kind not in _INLINE_KINDS,
        filename=attachment.original_name or f"attachment-{attachment.pk}",
    )
    # The type was sniffed on upload; never let a browser guess or run anything in it.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


# Included by dajian/urls.py under "api/uploads/".
urlpatterns = [
    path("", uploads, name="uploads"),
    path("<int:attachment_id>/", upload_detail, name="upload-detail"),
]
