"""Listing images: every upload is decoded and re-encoded, never stored as sent.

Re-encoding is the point: what the vendor's camera or editor put in the file (EXIF with GPS
position and serial numbers, ICC profiles, comments, a polyglot payload after the image data)
does not survive, and visitors only ever receive a plain JPEG we wrote ourselves.

Refusals happen as early as possible and before any pixel is decoded: too many bytes, not a
supported format (JPEG, PNG, WebP, GIF — the first frame), too many pixels as declared in the
header (a small "decompression bomb" file can claim gigapixels). A truncated or damaged file fails
while decoding. Each refusal is an ``InvalidInput`` on the field ``images``.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from marketplace.errors import InvalidInput
from marketplace.listings.image_memory import peak_bytes, processing_slot
from marketplace.settings import Settings

FIELD = "images"
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
CONTENT_TYPE = "image/jpeg"
JPEG_QUALITY = 85
THUMBNAIL_SIZE = 400
THUMBNAIL_QUALITY = 80
# A file part's bytes besides the file in a multipart body: its boundary line and headers
# (Content-Disposition with the file name, Content-Type); a file name of 1,000 bytes still fits.
MULTIPART_FILE_PART_OVERHEAD_BYTES = 4 * 1024
# What Pillow raises on damaged, truncated or malicious input, besides the bomb checks.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError, KeyError)


@dataclass(frozen=True)
class ProcessedImage:
    """A cleaned image ready to store: full size (fitted to the maximum dimension) and thumbnail."""

    data: bytes
    thumbnail: bytes
    content_type: str
    width: int
    height: int
    sha256: str


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


def _refuse(name: str, reason: str) -> InvalidInput:
    label = f"The image “{name[:100]}”" if name else "The image"
    return InvalidInput(f"{label} {reason}", field=FIELD)


def check_upload_size(raw: bytes, settings: Settings, *, name: str = "") -> None:
    """Refuse an empty upload or one over ``settings.image_max_bytes``."""
    if not raw:
        raise _refuse(name, "is an empty file.")
    if len(raw) > settings.image_max_bytes:
        raise _refuse(name, f"is larger than {_megabytes(settings.image_max_bytes)} MB.")


def upload_body_max_bytes(settings: Settings, *, images: int, other_fields_bytes: int) -> int:
    """The largest request body carrying ``images`` files of ``settings.image_max_bytes`` each plus
    ``other_fields_bytes`` of other fields, in bytes: the body limit of an upload route."""
    return images * (settings.image_max_bytes + MULTIPART_FILE_PART_OVERHEAD_BYTES) + other_fields_bytes


def _open_checked(raw: bytes, settings: Settings, name: str) -> Image.Image:
    """The image opened (header read, nothing decoded; a JPEG set to decode scaled down), or a refusal."""
    try:
        image = Image.open(io.BytesIO(raw), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse(name, "has too many pixels.") from exc
    except UnidentifiedImageError as exc:
        raise _refuse(name, "is not a JPEG, PNG, WebP or GIF image.") from exc
    except _DECODE_ERRORS as exc:
        raise _refuse(name, "is damaged and cannot be read.") from exc
    try:
        _check_size(image, settings, name)
    except BaseException:
        image.close()
        raise
    return image


def _check_size(image: Image.Image, settings: Settings, name: str) -> None:
    """Refuse too many pixels, or more than ``image_memory_budget_bytes`` of memory to process them."""
    width, height = image.size
    if width < 1 or height < 1:
        raise _refuse(name, "has no pixels.")
    if width * height > settings.image_max_pixels:
        raise _refuse(
            name,
            f"is {width}×{height} pixels; at most {settings.image_max_pixels:,} pixels are accepted.",
        )
    limit = settings.image_max_dimension
    if image.format == "JPEG":
        # Let the JPEG decoder scale down by 1/2, 1/4 or 1/8 while decoding, to no less than the
        # size it will be shown at: much less work and memory.
        scale = min(1.0, limit / max(width, height))
        try:
            image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        except _DECODE_ERRORS as exc:
            raise _refuse(name, "is damaged and cannot be read.") from exc
    needed = peak_bytes(image, (width, height), limit)
    budget = settings.image_memory_budget_bytes
    if needed > budget:
        allowed = width * height * budget // needed
        kind = f"{image.format} with transparency" if _has_transparency(image) else f"{image.format}"
        raise _refuse(
            name,
            f"is {width}×{height} pixels, more than can be processed: a {kind} like it may have at most "
            f"{allowed:,} pixels. Send a smaller image.",
        )


def _has_transparency(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


def _release(image: Image.Image) -> None:
    """Free ``image``'s pixels now rather than when it is collected."""
    image.close()


# Pillow resizes these modes with the nearest pixel only: they are converted first.
_RESIZABLE_MODE = {"1": "L", "P": "RGB", "PA": "RGBA"}


def _shrunk_to_rgb(decoded: Image.Image, limit: int) -> Image.Image:
    """``decoded`` fitted in ``limit``×``limit`` as RGB, transparent areas white.

    Each full-size working copy is released as soon as the next exists, and the image is shrunk
    before the small copies are made (``image_memory.peak_bytes`` counts what this holds).
    """
    image = decoded
    if image.mode in _RESIZABLE_MODE:
        target = "RGBA" if "transparency" in image.info else _RESIZABLE_MODE[image.mode]
        converted = image.convert(target)
        _release(image)
        image = converted
    if image.mode in ("RGBA", "LA"):
        # On white: transparent areas would turn black in a JPEG otherwise.
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image, mask=image)
        _release(image)
        image = flat
    image.thumbnail((limit, limit), Image.Resampling.LANCZOS)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bits before the RGB conversion, which would clip it.
        image = image.point(lambda value: value / 256).convert("L")
    return image if image.mode == "RGB" else image.convert("RGB")


# What EXIF orientation (tag 0x0112) asks to turn the stored pixels upright (as ImageOps.exif_transpose).
_ORIENTATION_TAG = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    # No exif/icc_profile/comment arguments: the output carries pixels only.
    image.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def process_upload(raw: bytes, settings: Settings, *, name: str = "") -> ProcessedImage:
    """Validate and re-encode one uploaded image; raises ``InvalidInput`` (field ``images``).

    Refused before decoding if it would take more than ``settings.image_memory_budget_bytes``;
    decoded in one of the process's ``image_processing_slots`` (waits for one).
    """
    check_upload_size(raw, settings, name=name)
    image = _open_checked(raw, settings, name)
    with image, processing_slot(settings):
        try:
            image.seek(0)  # the first frame of an animated GIF or WebP
            image.load()
            orientation = image.getexif().get(_ORIENTATION_TAG)
            rgb = _shrunk_to_rgb(image, settings.image_max_dimension)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _refuse(name, "has too many pixels.") from exc
        except _DECODE_ERRORS as exc:
            raise _refuse(name, "is damaged or truncated and cannot be read.") from exc
        turn = _UPRIGHT.get(orientation) if isinstance(orientation, int) else None
        upright = rgb.transpose(turn) if turn is not None else rgb
        # A fresh image holds pixels and nothing else: no info dict, no EXIF, no ICC profile.
        clean = Image.new("RGB", upright.size)
        clean.paste(upright)
        del rgb, upright
        data = _encode_jpeg(clean, JPEG_QUALITY)
        small = clean.copy()
        small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
        thumbnail = _encode_jpeg(small, THUMBNAIL_QUALITY)
    return ProcessedImage(
        data=data,
        thumbnail=thumbnail,
        content_type=CONTENT_TYPE,
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )
