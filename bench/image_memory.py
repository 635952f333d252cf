"""Peak memory of processing one upload, for the worst files we know (issue 6: at most ~100 MB each).

Each file is generated here (fixed content, so every run measures the same bytes), written to the
work directory, then processed by ``marketplace.listings.images.process_upload`` with production
settings in a fresh Python process of its own: that process imports the marketplace, reads the
file, notes its peak resident memory, processes the file and notes the peak again. The
difference is what the upload cost at its peak. The peak is the kernel's high-water mark of the
process's own memory (``VmHWM`` in ``/proc/self/status``): ``getrusage``'s ``ru_maxrss`` would
do, but Linux carries the parent's peak over to a child across ``exec``, and the parent has just
drawn a 40 M pixel photo; the outcome is "accepted" (with the output
size) or the refusal's message. The estimate the server refuses by (``image_memory.peak_bytes``)
is printed next to it, and the budget (``image_memory_budget_bytes``) in the title.

    python -m bench --images-only          # only this table (about 15 s); `make bench` prints it last
"""

from __future__ import annotations

import io
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.table import Table

MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    key: str
    description: str
    make: Callable[[int], bytes]  # the file, given the budget in bytes


@dataclass(frozen=True)
class Measured:
    sample: Sample
    file_bytes: int
    estimate_bytes: int | None
    peak_delta_bytes: int
    seconds: float
    outcome: str


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _noise(size: tuple[int, int], mode: str) -> Image.Image:
    """Detail everywhere (a photo's worst case for file size), the same every run."""
    tile = Image.frombytes(
        "L", (256, 256), bytes((x * 7 + y * 13 + (x * y) % 17) % 256 for y in range(256) for x in range(256))
    )
    grey = tile.resize(size, Image.Resampling.NEAREST) if size != tile.size else tile
    return Image.merge("RGB", (grey, grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grey)).convert(mode)


def _largest_square(bytes_per_pixel: float, budget: int) -> int:
    """The side of the largest square image whose estimate fits ``budget`` at that cost per pixel."""
    return math.isqrt(int(budget / bytes_per_pixel))


def _issue_example(_budget: int) -> bytes:
    return _encoded(Image.new("RGBA", (6300, 6300), (0, 0, 0, 0)), "PNG")


def _rgba_png(budget: int) -> bytes:
    side = _largest_square(8, budget)
    return _encoded(Image.new("RGBA", (side, side), (10, 200, 30, 128)), "PNG")


def _rgb_png(budget: int) -> bytes:
    side = _largest_square(7, budget)
    return _encoded(Image.new("RGB", (side, side), "navy"), "PNG")


def _palette_gif(budget: int) -> bytes:
    side = _largest_square(9, budget)
    image = Image.new("P", (side, side), 1)
    return _encoded(image, "GIF", transparency=0)


def _grey16_png(budget: int) -> bytes:
    side = _largest_square(4, budget)
    return _encoded(Image.new("I;16", (side, side), 40000), "PNG")


def _webp(budget: int) -> bytes:
    side = _largest_square(16, budget)
    return _encoded(Image.new("RGBA", (side, side), (200, 10, 10, 100)), "WEBP", lossless=True)


def _jpeg_at_pixel_cap(_budget: int) -> bytes:
    # 6324×6324 is just under 40 M pixels, and decodes at 1/2 scale (1/4 would be under 1,600).
    return _encoded(_noise((6324, 6324), "RGB"), "JPEG", quality=90)


def _progressive_jpeg(_budget: int) -> bytes:
    return _encoded(_noise((4000, 3000), "RGB"), "JPEG", quality=90, progressive=True, subsampling=0)


def _progressive_jpeg_at_pixel_cap(_budget: int) -> bytes:
    return _encoded(_noise((6324, 6324), "RGB"), "JPEG", quality=90, progressive=True)


SAMPLES = (
    Sample("issue-example", "the issue's PNG: 6300×6300 transparent", _issue_example),
    Sample("rgba-png", "PNG with transparency, the largest accepted square", _rgba_png),
    Sample("rgb-png", "PNG without transparency, the largest accepted square", _rgb_png),
    Sample("palette-gif", "GIF with a transparent colour, the largest accepted square", _palette_gif),
    Sample("grey16-png", "16-bit grey PNG, the largest accepted square", _grey16_png),
    Sample("webp", "lossless WebP with transparency, the largest accepted square", _webp),
    Sample("jpeg-40mp", "baseline JPEG photo, 6324×6324 (the 40 M pixel cap)", _jpeg_at_pixel_cap),
    Sample("jpeg-progressive", "progressive JPEG, 4000×3000, no chroma subsampling", _progressive_jpeg),
    Sample("jpeg-progressive-40mp", "progressive JPEG photo (4:2:0), 6324×6324", _progressive_jpeg_at_pixel_cap),
)


def _peak_resident_bytes() -> int:
    """This process's peak resident memory so far, in bytes."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _measure_in_this_process(path: Path) -> dict[str, object]:
    """Run in the child: process the file once, report the peak memory it added."""
    from marketplace.errors import InvalidInput
    from marketplace.listings.image_memory import peak_bytes
    from marketplace.listings.images import process_upload
    from marketplace.settings import load_settings

    settings = load_settings(env="development")
    raw = path.read_bytes()
    with Image.open(io.BytesIO(raw)) as opened:
        header = opened.size
        if opened.format == "JPEG":  # as process_upload does
            scale = min(1.0, settings.image_max_dimension / max(header))
            opened.draft("RGB", (int(header[0] * scale), int(header[1] * scale)))
        estimate = peak_bytes(opened, header, settings.image_max_dimension)
    before = _peak_resident_bytes()
    started = time.perf_counter()
    try:
        processed = process_upload(raw, settings)
        outcome = f"accepted ({processed.width}×{processed.height})"
    except InvalidInput as exc:
        outcome = f"refused: {exc.message}"
    seconds = time.perf_counter() - started
    after = _peak_resident_bytes()
    return {"estimate": estimate, "delta": after - before, "seconds": seconds, "outcome": outcome}


def measure(workdir: Path) -> tuple[int, list[Measured]]:
    """Every sample measured in a child process of its own; gives the budget and the rows."""
    from marketplace.settings import load_settings

    budget = load_settings(env="development").image_memory_budget_bytes
    rows = []
    for sample in SAMPLES:
        content = sample.make(budget)
        path = workdir / f"{sample.key}.img"
        path.write_bytes(content)
        child = subprocess.run(
            [sys.executable, "-m", "bench.image_memory", "--measure", str(path)],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        report = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(
            Measured(
                sample=sample,
                file_bytes=len(content),
                estimate_bytes=int(report["estimate"]),
                peak_delta_bytes=int(report["delta"]),
                seconds=float(report["seconds"]),
                outcome=str(report["outcome"]),
            )
        )
        path.unlink()
    return budget, rows


def _mb(value: int | None) -> str:
    return "" if value is None else f"{value / MEGABYTE:,.0f}"


def print_table(console: Console, budget: int, rows: list[Measured]) -> None:
    table = Table(
        title=f"Peak memory of one upload (budget {budget / MEGABYTE:.0f} MiB; each in a fresh process)",
        title_justify="left",
    )
    for column in ("file", "size", "estimate MiB", "peak added MiB", "seconds", "outcome"):
        table.add_column(column, justify="left" if column in ("file", "outcome") else "right")
    for row in rows:
        table.add_row(
            row.sample.description,
            f"{row.file_bytes / 1024:,.0f} KiB",
            _mb(row.estimate_bytes),
            _mb(row.peak_delta_bytes),
            f"{row.seconds:.2f}",
            row.outcome[:90],
        )
    console.print(table)


def markdown_table(budget: int, rows: list[Measured]) -> str:
    lines = [
        f"Budget: {budget / MEGABYTE:.0f} MiB per upload.",
        "",
        "| file | size | estimate MiB | peak added MiB | seconds | outcome |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {row.sample.description} | {row.file_bytes / 1024:,.0f} KiB | {_mb(row.estimate_bytes)} | "
        f"{_mb(row.peak_delta_bytes)} | {row.seconds:.2f} | {row.outcome} |"
        for row in rows
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--measure"]:
        print(json.dumps(_measure_in_this_process(Path(argv[1]))))
        return 0
    console = Console(width=None if Console().is_terminal else 150)
    with tempfile.TemporaryDirectory(prefix="marketplace-bench-images-") as workdir:
        budget, rows = measure(Path(workdir))
    print_table(console, budget, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
