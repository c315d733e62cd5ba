"""The one resource policy: how many pixels an image may have at any stage, how many bytes are
read from a stream, how many threads and workers a run may ask for.

Every surface (predict, compose, batch on threads or Ray, video frames, server uploads) checks
through here, so a limit changed here changes everywhere.
"""
from __future__ import annotations

import os

from PIL import Image

from fusionmat.errors import BudgetError

MAX_STREAM_BYTES = 512 * 1024 * 1024
"""Most bytes read from standard input for one photo (an 89 MP 8-bit TIFF is 268 MB)."""
MAX_THREADS = max(64, 4 * (os.cpu_count() or 1))
"""Upper bound of ``--threads`` (engine threads): more only costs memory (a thread stack each)."""
MAX_WORKERS = max(32, 2 * (os.cpu_count() or 1))
"""Upper bound of ``--workers`` (threads that each hold one photo in memory)."""


def max_pixels() -> int:
    """The pixel budget of one image: Pillow's decompression-bomb limit (about 89 MP by default;
    set ``PIL.Image.MAX_IMAGE_PIXELS`` to change it); 0 means none."""
    return int(Image.MAX_IMAGE_PIXELS or 0)


def check_pixels(width: int, height: int, what: str) -> None:
    """BudgetError naming ``what`` when a ``width`` x ``height`` image is over :func:`max_pixels`.

    Called on the file before decoding, and on every working size (aspect restored, rotated
    canvas, video frames) before it is allocated."""
    limit = max_pixels()
    if limit and width * height > limit:
        raise BudgetError(f"{what}: too many pixels ({width}x{height} = {width * height}, over the limit of "
                          f"{limit}, about {limit / 1e6:.0f} MP)")


def read_bounded(stream, what: str, limit: int | None = None) -> bytes:
    """Everything ``stream`` holds, refused with BudgetError past ``limit`` bytes (default
    :data:`MAX_STREAM_BYTES`; never read further)."""
    limit = MAX_STREAM_BYTES if limit is None else limit
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BudgetError(f"{what}: more than {limit // (1024 * 1024)} MB; save it to a file first")
    return data


BYTES_PER_PIXEL = {"matte": 28, "preview": 34, "cutout": 92, "composite": 92}
"""Peak working memory of one photo by output kind, in bytes per input pixel: decoding, the
matte's upsampling and refinement at full size, the output and its encoding (a cut-out or a
composite also estimates the foreground's colours). Measured with modnet on 9 and 36 MP
photos (docs/benchmarks.md, "memory per request"); the larger of the two is kept."""
ASPECT_BYTES_PER_PIXEL = 4
"""Extra bytes for each pixel restoring the aspect ratio adds (the stretched 8-bit copy)."""
TURN_BYTES_PER_PIXEL = 12
"""Extra bytes for each pixel a rotated canvas adds beyond that (it is turned and filled as float)."""
BACKGROUND_BYTES_PER_PIXEL = 10
"""Bytes per pixel of a background picture while it is decoded (Pillow's image and the array;
measured 849 MB for an 88 MP PNG), before it is fitted to the photo (12 bytes per photo pixel)."""
FIXED_BYTES = 64 * 1024 * 1024
"""What any photo costs on top (network input, detectors' views, buffers)."""


def working_pixels(width: int, height: int, *, rotate: str | float = "none",
                   aspect: tuple[float, float] | None = None) -> tuple[int, int]:
    """(pixels with the aspect ratio restored, pixels of the turned canvas) of a ``width`` x
    ``height`` photo: the largest canvases preprocessing may make (for rotate 'auto' the worst
    angle, 45 degrees). A canvas over the pixel budget is refused, never made: counted at the budget."""
    import math

    if aspect is not None:
        target = aspect[0] / aspect[1]
        if target >= width / height:
            width = int(round(height * target))
        else:
            height = int(round(width / target))
    restored = width * height
    if rotate == "none":
        return restored, restored
    angle = 45.0 if rotate == "auto" else float(rotate) % 90.0
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    turned = int(math.ceil(width * c + height * s)) * int(math.ceil(width * s + height * c))
    limit = max_pixels() or turned
    return min(restored, limit), max(min(turned, limit), min(restored, limit))


def estimate_bytes(width: int, height: int, kind: str, *, rotate: str | float = "none",
                   aspect: tuple[float, float] | None = None, background_pixels: int = 0) -> int:
    """About how many bytes matting one ``width`` x ``height`` photo into ``kind`` ('matte',
    'preview', 'cutout', 'composite') takes at its peak, before anything is decoded: the photo's
    pixels at :data:`BYTES_PER_PIXEL`, what the working sizes add, a background picture of
    ``background_pixels`` (decoded, then fitted to the photo as float)."""
    pixels = width * height
    restored, turned = working_pixels(width, height, rotate=rotate, aspect=aspect)
    working = max(0, restored - pixels) * ASPECT_BYTES_PER_PIXEL + (turned - restored) * TURN_BYTES_PER_PIXEL
    background = background_pixels * BACKGROUND_BYTES_PER_PIXEL + pixels * 12 if background_pixels else 0
    return pixels * BYTES_PER_PIXEL[kind] + working + background + FIXED_BYTES
