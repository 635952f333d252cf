"""What processing an image costs in memory, known before it is decoded, and how many run at once.

A small file can decode to a huge bitmap: a 154 KB PNG of 6300×6300 transparent pixels is
159 MB decoded, and each working copy (converted, flattened, resized) as much again. So
``images.process_upload`` asks ``peak_bytes`` for the most memory its pipeline will hold for this
image (from the header only: size, mode, format), refuses an image over
``settings.image_memory_budget_bytes``, and decodes inside ``processing_slot``, which lets at most
``settings.image_processing_slots`` images (one per CPU core by default) be processed at once in
the process. The server's memory for images is then bounded by slots × budget, whatever is sent.

The estimate follows the pipeline of ``images.process_upload``: decode (JPEG scaled down by the
decoder with ``draft``), convert what Pillow cannot resize well (palette, bilevel) and close the
decoded image, flatten transparency onto white (a new RGB copy, then the transparent one is
closed), shrink to the maximum dimension (at most half the image again for the resampling's
intermediate), then small copies only. Pillow keeps 1 byte a pixel for bilevel, grey and palette
images, 2 for 16-bit grey, 4 for everything else (RGB included). ``bench`` measures the real peak
of the worst cases against the budget (``docs/performance.md``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from PIL import Image

from marketplace.settings import Settings

# Bytes per decoded pixel at the pipeline's peak, by the mode Pillow decodes to (see above). For
# 4-byte modes: 4 decoded, then the resampling's intermediate (at most half the image: the
# result's width by the source's height) and the result while both are alive. Measured with
# ``python -m bench.image_memory``.
_PEAK_BYTES_PER_PIXEL = {
    "1": 2,  # 1 decoded + 1 grey copy, shrunk in grey
    "L": 2,  # 1 decoded + at most 0.5 + 0.25 while resizing
    "I;16": 4,  # 2 decoded + at most 1 + 0.5 while resizing
    "I;16L": 4,
    "I;16B": 4,
    "I;16N": 4,
    "P": 7,  # 1 decoded + 4 RGB copy; the palette image closed, then 4 + 2 + 1 while resizing
    "RGB": 7,  # 4 decoded + at most 2 + 1 while resizing
    "CMYK": 7,
    "YCbCr": 7,
    "I": 7,
    "F": 7,
    "RGBA": 8,  # 4 decoded + 4 flattened RGB copy; the transparent one closed, then as RGB
    "LA": 8,
    "P+transparency": 9,  # 1 decoded + 4 RGBA copy + 4 flattened, at worst
    "PA": 12,
}
_UNKNOWN_MODE_BYTES_PER_PIXEL = 12
# libwebp decodes the whole frame into a canvas of its own, handed to Pillow as a copy: two more
# 4-byte pixels of the full image while decoding.
_WEBP_DECODER_BYTES_PER_PIXEL = 8
# A progressive JPEG keeps every DCT coefficient of the full-size image until its last scan
# (2 bytes each, for each component at its own resolution), whatever scale it is decoded at.
_JPEG_COEFFICIENT_BYTES = 2
_OUTPUT_COPIES = 2


def _mode_key(image: Image.Image) -> str:
    if image.mode == "P" and "transparency" in image.info:
        return "P+transparency"
    return image.mode


def peak_bytes(image: Image.Image, header_size: tuple[int, int], max_dimension: int) -> int:
    """The most memory, in bytes, that processing ``image`` will hold for pixels.

    ``image`` is opened, not decoded (after ``draft`` for a JPEG, so its size is the decoded
    size); ``header_size`` is the size its header declares (before any scaling by the decoder);
    the result is at most ``max_dimension`` pixels on its longer side.
    """
    width, height = image.size
    declared_pixels = header_size[0] * header_size[1]
    decoding = width * height * _PEAK_BYTES_PER_PIXEL.get(_mode_key(image), _UNKNOWN_MODE_BYTES_PER_PIXEL)
    if image.format == "WEBP":
        decoding += declared_pixels * _WEBP_DECODER_BYTES_PER_PIXEL
    if image.format == "JPEG" and ("progressive" in image.info or "progression" in image.info):
        decoding += int(declared_pixels * _jpeg_components_per_pixel(image) * _JPEG_COEFFICIENT_BYTES)
    # Once shrunk, two 4-byte copies at a time: the result and its clean copy, then the clean copy
    # and the thumbnail's (the JPEG encoder's coefficients, 3 bytes a pixel, come while the clean
    # copy is alone).
    output_pixels = min(width * height, max_dimension * max_dimension)
    return max(decoding, output_pixels * _OUTPUT_COPIES * 4)


def _jpeg_components_per_pixel(image: Image.Image) -> float:
    """Samples per pixel in a JPEG: 3 for colour without chroma subsampling, 1.5 with 4:2:0, 1 for grey."""
    layers: list[tuple[Any, int, int, Any]] | None = getattr(image, "layer", None)  # (id, h and v sampling, table)
    if not layers:
        return float(len(image.getbands()))
    most_h = max(layer[1] for layer in layers)
    most_v = max(layer[2] for layer in layers)
    return sum(layer[1] * layer[2] for layer in layers) / (most_h * most_v)


def slot_count(settings: Settings) -> int:
    """How many images the process may process at once: the setting, or one per CPU core."""
    return settings.image_processing_slots or os.cpu_count() or 1


@cache
def _slots(count: int) -> threading.BoundedSemaphore:
    # One semaphore per slot count for the whole process: memory is the process's, whichever app
    # (tests build many) is asking.
    return threading.BoundedSemaphore(count)


@contextmanager
def processing_slot(settings: Settings) -> Iterator[None]:
    """Hold one of the process's image processing slots for the block (waits for one if all are taken)."""
    slots = _slots(slot_count(settings))
    with slots:
        yield
