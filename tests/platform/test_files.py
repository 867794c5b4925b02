"""Uploads: sniffed types, limits, EXIF time and GPS, the upload and download endpoints."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image, TiffImagePlugin

from dajian.platform.audit import verify_chain
from dajian.platform.errors import DajianError
from dajian.platform.files import AttachmentErrorCode, get_attachment, store_upload
from dajian.platform.models import Attachment, AuditEvent
from dajian.platform.tokens import issue_token
from tests.factories import make_actor, make_user

UPLOAD_URL = "/api/uploads/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def limits(settings):
    """Set DAJIAN limits for one test: ``limits(MAX_UPLOAD_BYTES=10)``."""

    def apply(**values):
        settings.DAJIAN = {**settings.DAJIAN, **values}

    return apply


@pytest.fixture
def rep(workspace):
    return make_user("rep", workspace, roles=["rep"])


@pytest.fixture
def actor(rep, workspace):
    return make_actor(rep, workspace)


def rational(value: float) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(round(value * 1000), 1000)


def photo(
    fmt: str = "JPEG",
    size: tuple[int, int] = (4, 3),
    taken: str | None = "2024:05:01 10:30:00",
    offset: str | None = None,
    gps: dict | None = None,
) -> bytes:
    """An image with optional EXIF DateTimeOriginal, OffsetTimeOriginal and GPS IFD."""
    exif = Image.Exif()
    if taken is not None:
        exif.get_ifd(0x8769)[0x9003] = taken
        if offset is not None:
            exif.get_ifd(0x8769)[0x9011] = offset
    if gps is not None:
        exif.get_ifd(0x8825).update(gps)
    out = io.BytesIO()
    Image.new("RGB", size, "red").save(out, fmt, exif=exif)
    return out.getvalue()


SHANGHAI_GPS = {
    1: "N",
    2: (rational(31), rational(14), rational(2.4)),
    3: "E",
    4: (rational(121), rational(28), rational(12)),
    5: b"\x00",
    6: rational(12.5),
}


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def office(main_part: str, extra: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(main_part, "<x/>")
        for name, text in (extra or {}).items():
            archive.writestr(name, text)
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hi")
    return out.getvalue()


def refused(actor, data: bytes, name: str = "f.bin") -> str:
    with pytest.raises(DajianError) as caught:
        store_upload(actor, upload(name, data))
    (error,) = caught.value.errors
    assert error.field == "file"
    return error.code


EBML_WEBM = bytes.fromhex("1A45DFA3") + b"\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"
MP4_AUDIO = (
    b"\x00\x00\x00\x18ftypiso5\x00\x00\x02\x00iso5mp41"
    + b"\x00\x00\x00\x21hdlr\x00\x00\x00\x00\x00\x00\x00\x00soun"
    + bytes(16)
)
MP4_VIDEO = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + bytes(40)
PDF = b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
OOXML = "application/vnd.openxmlformats-officedocument"


# --- the service ---------------------------------------------------------------------------


def test_jpeg_keeps_exif_time_in_the_workspace_zone_and_gps(actor):
    # given a photo taken 10:30 local time in Shanghai, in the southern/western hemisphere
    gps = {**SHANGHAI_GPS, 1: "S", 3: "W", 5: b"\x01"}
    data = photo(gps=gps)
    before = timezone.now()

    attachment = store_upload(actor, upload("IMG_1.jpg", data, "image/jpeg"))

    assert attachment.content_type == "image/jpeg"
    assert attachment.kind == "image"
    assert (attachment.width, attachment.height) == (4, 3)
    assert attachment.size == len(data)
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert before <= attachment.uploaded_at <= timezone.now()
    assert attachment.captured_at == dt.datetime(2024, 5, 1, 2, 30, tzinfo=dt.UTC)
    assert attachment.gps == {"lat": -31.234, "lng": -121.47, "alt": -12.5}


def test_exif_time_follows_the_workspace_time_zone(actor, workspace):
    workspace.time_zone = "Europe/Berlin"
    workspace.save()

    attachment = store_upload(actor, upload("a.jpg", photo()))

    assert attachment.captured_at == dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)


def test_exif_offset_time_wins_over_the_workspace_zone(actor):
    attachment = store_upload(actor, upload("a.jpg", photo(offset="-05:00")))

    assert attachment.captured_at == dt.datetime(2024, 5, 1, 15, 30, tzinfo=dt.UTC)


def test_png_without_exif_has_no_time_or_place(actor):
    attachment = store_upload(actor, upload("shot.png", photo("PNG", size=(7, 5), taken=None)))

    assert (attachment.content_type, attachment.width, attachment.height) == ("image/png", 7, 5)
    assert attachment.captured_at is None
    assert attachment.gps is None


def test_gps_without_a_fix_is_ignored(actor):
    data = photo(gps={**SHANGHAI_GPS, 9: "V"})

    assert store_upload(actor, upload("a.jpg", data)).gps is None


def test_text_named_jpg_is_stored_as_text_not_as_an_image(actor):
    attachment = store_upload(actor, upload("photo.jpg", b"just some words\n", "image/jpeg"))

    assert (attachment.content_type, attachment.kind) == ("text/plain", "document")
    assert attachment.width is None
    assert attachment.file.name.endswith(".txt")


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b'  <svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"<?xml version='1.0'?><a/>",
        b"#!/bin/sh\nrm -rf /\n",
        b"MZ\x90\x00" + bytes(200),
        b"\x7fELF\x02\x01\x01" + bytes(200),
        bytes(range(256)),
    ],
    ids=["html", "svg", "xml", "script", "exe", "elf", "binary"],
)
def test_markup_scripts_and_executables_are_refused_whatever_the_name(actor, data):
    assert refused(actor, data, name="photo.jpg") == AttachmentErrorCode.FILE_TYPE_NOT_ALLOWED


@pytest.mark.parametrize(
    ("data", "content_type", "kind"),
    [
        (photo("GIF", taken=None), "image/gif", "image"),
        (photo("WEBP", taken=None), "image/webp", "image"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "image/heic", "image"),
        (EBML_WEBM + bytes(20) + b"\x86\x86A_OPUS" + bytes(20), "audio/webm", "audio"),
        (EBML_WEBM + bytes(20) + b"\x86\x86A_OPUS\x86\x85V_VP8" + bytes(20), "video/webm", "video"),
        (MP4_AUDIO, "audio/mp4", "audio"),
        (MP4_VIDEO, "video/mp4", "video"),
        (b"OggS\x00\x02" + bytes(22) + b"OpusHead" + bytes(40), "audio/ogg", "audio"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00" + bytes(40), "audio/mpeg", "audio"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40), "audio/wav", "audio"),
        (b"#!AMR\n" + bytes(40), "audio/amr", "audio"),
        (PDF, "application/pdf", "document"),
        (office("word/document.xml"), f"{OOXML}.wordprocessingml.document", "document"),
        (office("xl/workbook.xml"), f"{OOXML}.spreadsheetml.sheet", "document"),
        (office("ppt/presentation.xml"), f"{OOXML}.presentationml.presentation", "document"),
        ("名称,数量\n苹果,3\n".encode(), "text/csv", "document"),
        ("名称,数量\n苹果,3\n".encode("gb18030"), "text/csv", "document"),
    ],
    ids=lambda v: v if isinstance(v, str) and "/" in v else "",
)  # fmt: skip
def test_allowed_types_are_sniffed_from_the_bytes(actor, data, content_type, kind):
    attachment = store_upload(actor, upload("upload.bin", data, "application/x-msdownload"))

    assert (attachment.content_type, attachment.kind) == (content_type, kind)


@pytest.mark.parametrize(
    "data",
    [
        plain_zip(),
        office("word/document.xml", {"word/vbaProject.bin": "macro"}),
        b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1" + bytes(64),
        photo("BMP", taken=None),
    ],
    ids=["zip", "macro-docx", "avif", "bmp"],
)
def test_archives_macros_and_unlisted_formats_are_refused(actor, data):
    assert refused(actor, data) == AttachmentErrorCode.FILE_TYPE_NOT_ALLOWED


@pytest.mark.parametrize(
    "data",
    [
        photo()[:200],  # truncated JPEG
        b"\xff\xd8\xff\xe0" + b"garbage" * 20,  # JPEG signature, no image
        photo("PNG", taken=None)[:40],
        b"%PDF-1.4\n1 0 obj<<>>",  # PDF without its end
    ],
    ids=["truncated-jpeg", "fake-jpeg", "truncated-png", "truncated-pdf"],
)
def test_damaged_files_are_refused_as_corrupt(actor, data):
    assert refused(actor, data) == AttachmentErrorCode.FILE_CORRUPT


def test_upload_size_limit_is_inclusive(actor, limits):
    limits(MAX_UPLOAD_BYTES=16)

    assert store_upload(actor, upload("a.txt", b"x" * 15 + b"\n")).size == 16
    assert refused(actor, b"x" * 16 + b"\n") == AttachmentErrorCode.FILE_TOO_LARGE


def test_empty_file_is_refused(actor):
    assert refused(actor, b"") == AttachmentErrorCode.EMPTY_FILE


def test_pixel_limit_is_inclusive(actor, limits):
    limits(MAX_IMAGE_PIXELS=12)
    assert store_upload(actor, upload("a.png", photo("PNG", size=(4, 3)))).width == 4

    limits(MAX_IMAGE_PIXELS=11)
    assert refused(actor, photo("PNG", size=(4, 3))) == AttachmentErrorCode.IMAGE_TOO_LARGE


@pytest.mark.parametrize("pillow_limit", [6, 5], ids=["bomb-warning", "bomb-error"])
def test_pillow_decompression_bomb_checks_become_refusals(actor, monkeypatch, pillow_limit):
    # 12 pixels: over Pillow's limit (a warning) or over twice it (an error)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)

    assert refused(actor, photo(size=(4, 3))) == AttachmentErrorCode.IMAGE_TOO_LARGE


def test_stored_name_is_the_servers_and_the_display_name_is_cleaned(actor):
    attachment = store_upload(actor, upload("../../etc/pass\x00wd.jpg", b"hello\n"))

    assert attachment.original_name == "passwd.jpg"
    assert "passwd" not in attachment.file.name
    assert attachment.file.name.startswith("attachments/")
    assert attachment.file.read() == b"hello\n"


def test_upload_is_audited(actor, workspace):
    attachment = store_upload(actor, upload("a.txt", b"hello\n"))

    event = AuditEvent.objects.get(workspace=workspace, object_id=str(attachment.pk))
    assert event.action == "attachment.upload"
    assert event.diff["sha256"] == [None, attachment.sha256]
    assert verify_chain(workspace).ok


def test_attachment_of_another_workspace_is_not_found(actor, other_workspace):
    stranger = make_actor(make_user("stranger", other_workspace), other_workspace)
    attachment = store_upload(actor, upload("a.txt", b"hello\n"))

    with pytest.raises(DajianError) as caught:
        get_attachment(stranger, attachment.pk)
    assert caught.value.errors[0].code == "NOT_FOUND"


# --- the endpoints ---------------------------------------------------------------------------


def post_file(client: Client, data: bytes, name: str = "a.jpg", **headers):
    """A multipart POST of ``data`` as the ``file`` field (the client guesses its type
    from ``name``, which the server must ignore)."""
    stream = io.BytesIO(data)
    stream.name = name
    return client.post(UPLOAD_URL, {"file": stream}, **headers)


def test_anonymous_upload_is_unauthenticated(client):
    response = post_file(client, photo())

    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHENTICATED"


def test_session_upload_returns_the_attachment(client, rep, workspace):
    client.force_login(rep)

    response = post_file(client, photo(gps=SHANGHAI_GPS), name="visit.jpg")

    assert response.status_code == 201
    body = response.json()["attachment"]
    assert set(body) >= {
        "id", "sha256", "contentType", "kind", "size", "uploadedAt", "capturedAt", "gps",
        "width", "height", "name",
    }  # fmt: skip
    assert body["contentType"] == "image/jpeg"
    assert body["capturedAt"] == "2024-05-01T02:30:00.000000Z"
    assert body["gps"] == {"lat": 31.234, "lng": 121.47, "alt": 12.5}
    assert body["name"] == "visit.jpg"
    assert Attachment.objects.get(pk=body["id"]).workspace == workspace


def test_session_upload_needs_the_csrf_token(rep):
    client = Client(enforce_csrf_checks=True)
    client.force_login(rep)
    token = "a" * 32

    denied = post_file(client, photo())
    client.cookies["csrftoken"] = token
    allowed = post_file(client, photo(), HTTP_X_CSRFTOKEN=token)

    assert denied.status_code == 403
    assert allowed.status_code == 201


def test_token_upload_needs_no_csrf_token(rep, workspace):
    _, plain = issue_token(rep, workspace)
    client = Client(enforce_csrf_checks=True)

    response = post_file(client, photo(), HTTP_AUTHORIZATION=f"Bearer {plain}")

    assert response.status_code == 201


def test_a_bad_bearer_token_is_not_rescued_by_the_session(client, rep):
    client.force_login(rep)

    response = post_file(client, photo(), HTTP_AUTHORIZATION="Bearer dj_nope_nope")

    assert response.status_code == 401


def test_a_user_outside_every_workspace_is_unauthenticated(client, db):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user("loner", password="pw"))

    assert post_file(client, photo()).status_code == 401


def test_refused_upload_is_a_400_with_typed_errors(client, rep):
    client.force_login(rep)

    response = post_file(client, b"<html><script>x</script></html>", name="a.jpg")

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "field": "file",
                "path": "file",
                "code": "FILE_TYPE_NOT_ALLOWED",
                "message": "This type of file is not allowed.",
            }
        ]
    }


def test_upload_limit_over_http(client, rep, limits):
    client.force_login(rep)
    limits(MAX_UPLOAD_BYTES=1000)

    at_limit = post_file(client, b"x" * 999 + b"\n", name="a.txt")
    over = post_file(client, b"x" * 1000 + b"\n", name="a.txt")

    assert at_limit.status_code == 201
    assert over.status_code == 413
    assert over.json()["errors"][0]["code"] == "FILE_TOO_LARGE"
    assert Attachment.objects.count() == 1


def test_huge_declared_body_is_refused_before_reading(client, rep, limits):
    client.force_login(rep)
    limits(MAX_UPLOAD_BYTES=10)

    response = client.generic(
        "POST", UPLOAD_URL, b"", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )  # fmt: skip

    assert response.status_code == 413


def test_missing_file_field_is_invalid_input(client, rep):
    client.force_login(rep)

    response = client.post(UPLOAD_URL, {"other": "x"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_INPUT"


def test_listing_uploads_is_not_a_route(client, rep):
    client.force_login(rep)

    assert client.get(UPLOAD_URL).status_code == 405


def test_download_is_for_members_of_the_same_workspace(client, actor, rep, other_workspace):
    attachment = store_upload(actor, upload("报告.pdf", b"%PDF-1.4\n1 0 obj<<>>\n%%EOF\n"))
    url = f"{UPLOAD_URL}{attachment.pk}/"

    anonymous = client.get(url)
    client.force_login(make_user("stranger", other_workspace))
    stranger = client.get(url)
    client.force_login(rep)
    member = client.get(url)

    assert anonymous.status_code == 401
    assert stranger.status_code == 404
    assert member.status_code == 200
    assert b"".join(member.streaming_content) == b"%PDF-1.4\n1 0 obj<<>>\n%%EOF\n"
    assert member["Content-Type"] == "application/pdf"
    assert member["X-Content-Type-Options"] == "nosniff"
    assert member["Content-Disposition"].startswith("attachment;")
    assert client.get(f"{UPLOAD_URL}999999/").status_code == 404


def test_images_download_inline(client, actor, rep):
    attachment = store_upload(actor, upload("a.png", photo("PNG", taken=None)))
    client.force_login(rep)

    response = client.get(f"{UPLOAD_URL}{attachment.pk}/")

    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith("inline;")
