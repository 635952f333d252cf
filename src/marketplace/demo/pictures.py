"""Simple, deterministic pictures for demo listings, drawn with Pillow.

Each picture is a coloured background with a few shapes and the listing's title, the same for
the same title and number every time. They go through the real upload path afterwards, so they
are stored exactly as a vendor's photo would be.
"""

from __future__ import annotations

import hashlib
import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 900
# One palette per category: background and accent colours.
PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "digital": ((30, 41, 59), (56, 189, 248), (129, 140, 248)),
    "books": ((120, 53, 15), (253, 230, 138), (254, 215, 170)),
    "electronics": ((17, 24, 39), (52, 211, 153), (250, 204, 21)),
    "clothing": ((131, 24, 67), (251, 207, 232), (244, 114, 182)),
    "home": ((20, 83, 45), (187, 247, 208), (253, 186, 116)),
    "art": ((76, 29, 149), (253, 224, 71), (248, 113, 113)),
    "services": ((12, 74, 110), (186, 230, 253), (255, 255, 255)),
    "other": ((194, 65, 12), (255, 237, 213), (31, 41, 55)),
}


def _rng(title: str, number: int) -> random.Random:
    seed = int.from_bytes(hashlib.sha256(f"{title}/{number}".encode()).digest()[:8], "big")
    return random.Random(seed)  # noqa: S311  (pictures, not secrets)


def draw_picture(title: str, category: str, number: int) -> bytes:
    """A PNG of ``WIDTH``×``HEIGHT`` pixels for picture ``number`` of the listing ``title``."""
    rng = _rng(title, number)
    background, accent, second = PALETTES.get(category, PALETTES["other"])
    image = Image.new("RGB", (WIDTH, HEIGHT), background)
    draw = ImageDraw.Draw(image)
    # A soft vertical gradient so the picture does not look flat.
    for y in range(0, HEIGHT, 6):
        shade = tuple(max(0, channel - y * 40 // HEIGHT) for channel in background)
        draw.rectangle((0, y, WIDTH, y + 6), fill=shade)
    for _ in range(rng.randint(5, 9)):
        colour = rng.choice((accent, second))
        x, y = rng.randrange(WIDTH), rng.randrange(HEIGHT)
        size = rng.randint(60, 260)
        shape = rng.choice(("circle", "square", "triangle", "ring"))
        box = (x - size // 2, y - size // 2, x + size // 2, y + size // 2)
        if shape == "circle":
            draw.ellipse(box, fill=colour)
        elif shape == "ring":
            draw.ellipse(box, outline=colour, width=max(6, size // 10))
        elif shape == "square":
            draw.rounded_rectangle(box, radius=size // 8, fill=colour)
        else:
            draw.polygon(
                [(x, y - size // 2), (x - size // 2, y + size // 2), (x + size // 2, y + size // 2)], fill=colour
            )
    _caption(draw, title, number, accent)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _caption(draw: ImageDraw.ImageDraw, title: str, number: int, colour: tuple[int, int, int]) -> None:
    """The title on a dark band across the middle, centred so that a square crop keeps it whole."""
    font = ImageFont.load_default(size=56)
    small = ImageFont.load_default(size=32)
    lines = textwrap.wrap(title, width=22)[:3]
    line_height = 68
    band_height = line_height * len(lines) + 90
    top = (HEIGHT - band_height) // 2
    draw.rectangle((0, top, WIDTH, top + band_height), fill=(0, 0, 0))
    for index, line in enumerate(lines):
        draw.text((WIDTH // 2, top + 30 + index * line_height), line, fill=(255, 255, 255), font=font, anchor="ma")
    draw.text((WIDTH // 2, top + band_height - 45), f"Demo picture {number}", fill=colour, font=small, anchor="ma")
