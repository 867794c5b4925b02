"""What an uploaded file really is, judged from its bytes only.

``puremagic`` names the family from the magic numbers; a small check per family then
confirms the structure and picks the exact type (an Office zip must hold a Word, Excel
or PowerPoint part and no macros; an MP4 is audio unless it has a video track...). The
client's content type and file name are never consulted. Anything not on the allow-list
— executables, HTML, SVG, XML, archives, macro documents — is refused.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import puremagic
from django.utils.translation import gettext as _

from dajian.platform.errors import DajianError
from dajian.platform.files.errors import AttachmentErrorCode, attachment_error


@dataclass(frozen=True)
class FileType:
    """An allowed type: MIME type, ``kind`` (image|audio|video|document), file extension."""

    content_type: str
    kind: str
    extension: str


ALLOWED_TYPES: dict[str, FileType] = {
    ft.content_type: ft
    for ft in (
        FileType("image/jpeg", "image", ".jpg"),
        FileType("image/png", "image", ".png"),
        FileType("image/webp", "image", ".webp"),
        FileType("image/gif", "image", ".gif"),
        FileType("image/heic", "image", ".heic"),
        FileType("image/heif", "image", ".heif"),
        FileType("audio/webm", "audio", ".webm"),
        FileType("audio/ogg", "audio", ".ogg"),
        FileType("audio/mp4", "audio", ".m4a"),
        FileType("audio/mpeg", "audio", ".mp3"),
        FileType("audio/wav", "audio", ".wav"),
        FileType("audio/amr", "audio", ".amr"),
        FileType("audio/3gpp", "audio", ".3gp"),
        FileType("video/mp4", "video", ".mp4"),
        FileType("video/webm", "video", ".webm"),
        FileType("video/ogg", "video", ".ogv"),
        FileType("video/quicktime", "video", ".mov"),
        FileType("video/3gpp", "video", ".3gp"),
        FileType("application/pdf", "document", ".pdf"),
        FileType(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "document",
            ".docx",
        ),
        FileType(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", ".xlsx"
        ),
        FileType(
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "document",
            ".pptx",
        ),
        FileType("text/csv", "document", ".csv"),
        FileType("text/plain", "document", ".txt"),
    )
}

# puremagic's extension → our family (each family has one structural check below).
_FAMILY_BY_MAGIC_EXTENSION = {
    **dict.fromkeys((".jpg", ".jpeg", ".jfif", ".jpe"), "jpeg"),
    ".png": "png",
    ".webp": "webp",
    ".gif": "gif",
    **dict.fromkeys(
        (".heic", ".heif", ".mp4", ".m4a", ".m4v", ".f4a", ".mov", ".3gp", ".3ga", ".3g2"),
        "isobmff",
    ),
    ".webm": "webm",
    **dict.fromkeys((".ogg", ".oga", ".ogv", ".opus"), "ogg"),
    **dict.fromkeys((".mp3", ".mpga"), "mp3"),
    ".wav": "wav",
    ".amr": "amr",
    ".pdf": "pdf",
    **dict.fromkeys((".docx", ".xlsx", ".pptx"), "ooxml"),
}

_HEAD_BYTES = 64 * 1024
_SCAN_CHUNK = 1024 * 1024


def _not_allowed() -> DajianError:
    return attachment_error(
        AttachmentErrorCode.FILE_TYPE_NOT_ALLOWED, _("This type of file is not allowed.")
    )


def _corrupt() -> DajianError:
    return attachment_error(
        AttachmentErrorCode.FILE_CORRUPT, _("The file is damaged or incomplete.")
    )


def _read_head(file: IO[bytes], size: int = _HEAD_BYTES) -> bytes:
    file.seek(0)
    head = file.read(size)
    file.seek(0)
    return head


def _read_tail(file: IO[bytes], size: int) -> bytes:
    file.seek(0, io.SEEK_END)
    end = file.tell()
    file.seek(max(0, end - size))
    tail = file.read()
    file.seek(0)
    return tail


def _scan(file: IO[bytes], pattern: re.Pattern[bytes], limit: int | None = None) -> set[bytes]:
    """First groups of every match of ``pattern`` in the file, read in chunks (matches
    shorter than the 64-byte overlap are never cut in two)."""
    found: set[bytes] = set()
    file.seek(0)
    carry, read = b"", 0
    while limit is None or read < limit:
        chunk = file.read(_SCAN_CHUNK)
        if not chunk:
            break
        read += len(chunk)
        window = carry + chunk
        found.update(m.group(1) for m in pattern.finditer(window))
        carry = window[-64:]
    file.seek(0)
    return found


def sniff(file: IO[bytes]) -> FileType:
    """The allowed type of ``file`` (a seekable binary file, left at offset 0).

    Raises ``DajianError`` ``FILE_TYPE_NOT_ALLOWED`` for anything off the allow-list and
    ``FILE_CORRUPT`` when the bytes claim an allowed type but are broken.
    """
    file.seek(0)
    try:
        candidates = puremagic.magic_stream(file)
    except (puremagic.PureError, ValueError):
        candidates = []
    file.seek(0)
    for candidate in candidates:
        family = _FAMILY_BY_MAGIC_EXTENSION.get(str(candidate.extension).lower())
        if family is None:
            continue
        try:
            return _CHECKS[family](file)
        except DajianError as exc:
            # A short magic number can begin a text file too ("ID3,name\n..."): when
            # the structure does not confirm the family, judge the file as text.
            if exc.errors[0].code != AttachmentErrorCode.FILE_TYPE_NOT_ALLOWED:
                raise
            break
    else:
        # puremagic knows only some ISO-BMFF brands; browsers record with others (iso5).
        if _read_head(file, 8)[4:8] == b"ftyp":
            return _isobmff(file)
    return _text(file)


def _image(content_type: str, signature: bytes, offset: int = 0) -> Callable[[IO[bytes]], FileType]:
    # Pillow confirms the image itself later (files.images); this only rules out a
    # weak, short magic match.
    def check(file: IO[bytes]) -> FileType:
        head = _read_head(file, 16)
        if head[offset : offset + len(signature)] != signature:
            raise _not_allowed()
        return ALLOWED_TYPES[content_type]

    return check


_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_HEIF_BRANDS = {b"mif1", b"msf1"}
_AUDIO_MP4_BRANDS = {b"M4A ", b"M4B ", b"F4A "}
_HANDLER = re.compile(rb"hdlr[\x00-\xff]{8}(vide|soun)")


def _isobmff(file: IO[bytes]) -> FileType:
    head = _read_head(file, 256)
    if head[4:8] != b"ftyp" or len(head) < 12:
        raise _not_allowed()
    box_size = min(int.from_bytes(head[0:4], "big"), len(head))
    major = head[8:12]
    brands = {major} | {head[i : i + 4] for i in range(16, box_size - 3, 4)}
    if brands & _HEIC_BRANDS:
        return ALLOWED_TYPES["image/heic"]
    if major in _HEIF_BRANDS:
        return ALLOWED_TYPES["image/heif"]
    if major in _AUDIO_MP4_BRANDS:
        return ALLOWED_TYPES["audio/mp4"]
    if major == b"qt  ":
        return ALLOWED_TYPES["video/quicktime"]
    if major in (b"avif", b"avis", b"crx "):
        raise _not_allowed()
    # Browsers record voice memos as MP4 too; only a video track makes it a video.
    handlers = _scan(file, _HANDLER)
    is_audio = b"soun" in handlers and b"vide" not in handlers
    family = "3gpp" if major.startswith((b"3gp", b"3g2")) else "mp4"
    return ALLOWED_TYPES[f"{'audio' if is_audio else 'video'}/{family}"]


_WEBM_DOCTYPE = re.compile(rb"\x42\x82[\x81-\x88]webm")
# CodecID elements of the tracks; whole names, so audio payload bytes never look like one.
_MATROSKA_CODEC = re.compile(
    rb"\x86[\x81-\xbf]("
    rb"V_(?:VP8|VP9|AV1|MPEG4/|MPEGH/|THEORA)"
    rb"|A_(?:OPUS|VORBIS|AAC|FLAC|MPEG/|PCM/))"
)


def _webm(file: IO[bytes]) -> FileType:
    head = _read_head(file, 4096)
    if not head.startswith(b"\x1a\x45\xdf\xa3") or not _WEBM_DOCTYPE.search(head[:64]):
        raise _not_allowed()
    # The Tracks element comes right after the header in browser recordings.
    codecs_found = {codec[:1] for codec in _scan(file, _MATROSKA_CODEC, limit=_HEAD_BYTES)}
    if codecs_found == {b"A"}:
        return ALLOWED_TYPES["audio/webm"]
    return ALLOWED_TYPES["video/webm"]


_OGG_AUDIO = (b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")


def _ogg(file: IO[bytes]) -> FileType:
    head = _read_head(file)
    if not head.startswith(b"OggS"):
        raise _not_allowed()
    if b"\x80theora" in head:
        return ALLOWED_TYPES["video/ogg"]
    if any(marker in head for marker in _OGG_AUDIO):
        return ALLOWED_TYPES["audio/ogg"]
    raise _not_allowed()


def _mp3(file: IO[bytes]) -> FileType:
    head = _read_head(file, 16)
    if head[:3] == b"ID3" and len(head) >= 10:
        if head[3] in (2, 3, 4) and all(b < 0x80 for b in head[6:10]):
            return ALLOWED_TYPES["audio/mpeg"]
        raise _not_allowed()
    # MPEG audio frame header: 11 sync bits, a real layer, a usable bitrate index.
    if (
        len(head) >= 3
        and head[0] == 0xFF
        and head[1] & 0xE0 == 0xE0
        and (head[1] >> 1) & 0x03 != 0
        and head[2] >> 4 != 0x0F
    ):
        return ALLOWED_TYPES["audio/mpeg"]
    raise _not_allowed()


def _wav(file: IO[bytes]) -> FileType:
    head = _read_head(file, 16)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise _not_allowed()
    return ALLOWED_TYPES["audio/wav"]


def _amr(file: IO[bytes]) -> FileType:
    if not _read_head(file, 16).startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        raise _not_allowed()
    return ALLOWED_TYPES["audio/amr"]


def _pdf(file: IO[bytes]) -> FileType:
    if not _read_head(file, 8).startswith(b"%PDF-"):
        raise _not_allowed()
    if b"%%EOF" not in _read_tail(file, 2048):
        raise _corrupt()  # a truncated upload
    return ALLOWED_TYPES["application/pdf"]


_OOXML_PARTS = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def _ooxml(file: IO[bytes]) -> FileType:
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if "[Content_Types].xml" not in names:
                raise _not_allowed()  # a plain zip archive
            with archive.open("[Content_Types].xml") as part:
                content_types = part.read(1024 * 1024)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise _corrupt() from exc
    finally:
        file.seek(0)
    # Macro-enabled documents (docm, xlsm, pptm) run code when opened.
    if b"macroEnabled" in content_types or any(n.endswith("vbaProject.bin") for n in names):
        raise _not_allowed()
    for prefix, content_type in _OOXML_PARTS.items():
        if any(name.startswith(prefix) for name in names):
            return ALLOWED_TYPES[content_type]
    raise _not_allowed()


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CSV_SAMPLE_ROWS = 50


def _decode_text(file: IO[bytes]) -> str | None:
    """The first 64 KB of the text if the whole file is UTF-8 or GB18030 text without
    control characters (spreadsheets exported on Chinese Windows are GB18030)."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        sample: list[str] = []
        sampled = 0
        file.seek(0)
        try:
            while chunk := file.read(_SCAN_CHUNK):
                text = decoder.decode(chunk)
                if _CONTROL_CHARS.search(text):
                    return None
                if sampled < _HEAD_BYTES:
                    sample.append(text)
                    sampled += len(text)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        finally:
            file.seek(0)
        return "".join(sample)[:_HEAD_BYTES]
    return None


def _looks_like_csv(text: str) -> bool:
    """At least two rows with the same number (≥ 2) of comma, semicolon or tab columns."""
    for delimiter in (",", ";", "\t"):
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        try:
            rows = [row for row in itertools.islice(reader, _CSV_SAMPLE_ROWS) if row]
        except csv.Error:
            continue
        if len(text) >= _HEAD_BYTES and len(rows) > 2:
            rows = rows[:-1]  # the sample may end mid-row
        widths = {len(row) for row in rows}
        if len(rows) >= 2 and len(widths) == 1 and widths.pop() >= 2:
            return True
    return False


def _text(file: IO[bytes]) -> FileType:
    text = _decode_text(file)
    if text is None or not text.strip():
        raise _not_allowed()
    # Markup (HTML, SVG, XML) and scripts are refused even as "text".
    if text.lstrip("\ufeff \t\r\n").startswith(("<", "#!")):
        raise _not_allowed()
    return ALLOWED_TYPES["text/csv" if _looks_like_csv(text) else "text/plain"]


_CHECKS = {
    "jpeg": _image("image/jpeg", b"\xff\xd8\xff"),
    "png": _image("image/png", b"\x89PNG\r\n\x1a\n"),
    "gif": _image("image/gif", b"GIF8"),
    "webp": _image("image/webp", b"WEBP", offset=8),
    "isobmff": _isobmff,
    "webm": _webm,
    "ogg": _ogg,
    "mp3": _mp3,
    "wav": _wav,
    "amr": _amr,
    "pdf": _pdf,
    "ooxml": _ooxml,
}
