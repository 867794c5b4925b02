"""Images: size limits against decompression bombs, a full decode to catch damaged
files, and what EXIF says about when and where the photo was taken."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import warnings
from dataclasses import dataclass
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import ExifTags, Image

from dajian.platform.errors import DajianError
from dajian.platform.files.errors import AttachmentErrorCode, attachment_error

# Only these are decoded here; HEIC/HEIF are stored as they are (Pillow cannot read them).
PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
}

_DATETIME_ORIGINAL = 0x9003
_OFFSET_TIME_ORIGINAL = 0x9011
_GPS_LATITUDE_REF, _GPS_LATITUDE = 1, 2
_GPS_LONGITUDE_REF, _GPS_LONGITUDE = 3, 4
_GPS_ALTITUDE_REF, _GPS_ALTITUDE = 5, 6
_GPS_STATUS = 9


@dataclass(frozen=True)
class ImageInfo:
    """What the server measured: pixel size, EXIF capture time (UTC) and GPS position."""

    width: int | None = None
    height: int | None = None
    captured_at: dt.datetime | None = None
    gps: dict[str, float] | None = None


def _too_large() -> DajianError:
    return attachment_error(
        AttachmentErrorCode.IMAGE_TOO_LARGE, _("The image has too many pixels.")
    )


def inspect_image(file: IO[bytes], content_type: str, max_pixels: int, time_zone: str) -> ImageInfo:
    """Decode the image in ``file`` and read its EXIF.

    Refuses (``DajianError``) images over ``max_pixels`` or that Pillow flags as
    decompression bombs (``IMAGE_TOO_LARGE``) and images that do not decode
    (``FILE_CORRUPT``). EXIF times without a zone are read in ``time_zone``; broken EXIF
    is ignored, never a refusal.
    """
    pillow_format = PILLOW_FORMATS.get(content_type)
    if pillow_format is None:
        return ImageInfo()
    file.seek(0)
    try:
        # Turn Pillow's bomb warning into a refusal. catch_warnings is process-global:
        # fine for process-based workers, which is how Dajian is served.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=[pillow_format]) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise _too_large()
                exif = image.getexif() if pillow_format == "JPEG" else None
                if pillow_format == "JPEG":
                    # Decoding at 1/8 scale still reads every byte of the scan.
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
                if exif is None:
                    exif = image.getexif()
    except DajianError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise _too_large() from exc
    except Exception as exc:
        raise attachment_error(
            AttachmentErrorCode.FILE_CORRUPT, _("The image is damaged or incomplete.")
        ) from exc
    finally:
        file.seek(0)
    captured_at, gps = _read_exif(exif, time_zone)
    return ImageInfo(width=width, height=height, captured_at=captured_at, gps=gps)


def _read_exif(exif: Image.Exif, time_zone: str) -> tuple[dt.datetime | None, dict | None]:
    try:
        captured_at = _captured_at(exif.get_ifd(ExifTags.IFD.Exif), time_zone)
    except Exception:  # noqa: BLE001 - malformed EXIF must not block an upload
        captured_at = None
    try:
        gps = _gps(exif.get_ifd(ExifTags.IFD.GPSInfo))
    except Exception:  # noqa: BLE001 - same
        gps = None
    return captured_at, gps


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    return str(value).strip("\x00 ") if value is not None else ""


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _captured_at(exif_ifd: dict, time_zone: str) -> dt.datetime | None:
    """DateTimeOriginal in UTC. EXIF carries no zone unless the camera wrote
    OffsetTimeOriginal; otherwise the photo is taken to be in the workspace's zone."""
    raw = _text(exif_ifd.get(_DATETIME_ORIGINAL))
    if not raw:
        return None
    try:
        naive = dt.datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # "0000:00:00 00:00:00" and other blanks
    tz: dt.tzinfo = _zone(time_zone)
    offset = _text(exif_ifd.get(_OFFSET_TIME_ORIGINAL))
    if offset:
        with contextlib.suppress(ValueError):
            tz = dt.datetime.strptime(offset, "%z").tzinfo or tz
    return naive.replace(tzinfo=tz).astimezone(dt.UTC)


def _degrees(value: Any, ref: Any, negative: str, limit: float) -> float | None:
    """Degrees/minutes/seconds rationals and an N/S or E/W reference → signed degrees."""
    ref_text = _text(ref).upper()
    if not ref_text or value is None:
        return None
    parts = [float(part) for part in (value if isinstance(value, tuple | list) else (value,))]
    if not parts or len(parts) > 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        return None
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    if degrees > limit:
        return None
    return -degrees if ref_text.startswith(negative) else degrees


def _gps(gps_ifd: dict) -> dict[str, float] | None:
    """``{"lat", "lng"}`` (and ``"alt"`` in metres when present), or None."""
    if not gps_ifd or _text(gps_ifd.get(_GPS_STATUS)).upper() == "V":  # V: no fix
        return None
    lat = _degrees(gps_ifd.get(_GPS_LATITUDE), gps_ifd.get(_GPS_LATITUDE_REF), "S", 90)
    lng = _degrees(gps_ifd.get(_GPS_LONGITUDE), gps_ifd.get(_GPS_LONGITUDE_REF), "W", 180)
    if lat is None or lng is None:
        return None
    position = {"lat": round(lat, 7), "lng": round(lng, 7)}
    altitude = gps_ifd.get(_GPS_ALTITUDE)
    if altitude is not None and math.isfinite(float(altitude)):
        below_sea_level = gps_ifd.get(_GPS_ALTITUDE_REF) in (1, b"\x01")
        position["alt"] = round(-float(altitude) if below_sea_level else float(altitude), 2)
    return position
