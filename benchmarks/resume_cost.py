"""What the content check in resume stamps costs: milliseconds per stamp on a folder of JPEGs.

Usage:
    python benchmarks/resume_cost.py [--count 1000] [--folder DIR]

Writes ``--count`` distinct JPEGs of about 1-3 MB into a temp folder (or ``--folder``, which
must not exist yet: nothing already there is touched), then times, per photo:

- ``size+mtime``: the stamp without the content check (one ``stat``);
- ``+ head/tail sha256``: the stamp resume writes (:func:`fusionmat.outputs.resume.source_stamp`:
  ``stat`` plus 2 x 64 KB read and hashed);
- ``whole-file sha256``: for scale, hashing every byte.

Each is timed cold (every photo's pages dropped from the page cache with
``posix_fadvise(DONTNEED)`` first, as on a re-run days later) and warm (right after).
Prints a table; the figures go into docs/benchmarks.md with this command.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
from PIL import Image

from fusionmat.outputs.resume import source_stamp

BASE_SIDES = ((1600, 1200), (2000, 1500), (2400, 1800), (2600, 1950))
"""Sizes of the base pictures; textured noise at quality 92 gives about 1-3 MB each."""


def base_jpegs(seed: int = 0) -> list[bytes]:
    """A few JPEGs with photo-like detail (smooth colour plus grain), about 1-3 MB each."""
    rng = np.random.default_rng(seed)
    out = []
    for w, h in BASE_SIDES:
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        smooth = np.stack([np.sin(x / (80 + 40 * c) + c) * np.cos(y / (60 + 30 * c)) for c in range(3)], axis=2)
        pixels = 128 + 70 * smooth + rng.normal(0, 22, (h, w, 3))
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=92)
        out.append(buffer.getvalue())
    return out


def with_comment(jpeg: bytes, text: str) -> bytes:
    """``jpeg`` with a COM segment after its SOI marker: a distinct file that decodes the same."""
    payload = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def write_photos(folder: Path, count: int) -> list[Path]:
    """``count`` distinct JPEGs in ``folder``, cycling through the base pictures."""
    bases = base_jpegs()
    paths = []
    for i in range(count):
        path = folder / f"photo_{i:05d}.jpg"
        path.write_bytes(with_comment(bases[i % len(bases)], f"fusionmat resume benchmark {i}"))
        paths.append(path)
    return paths


def drop_cache(paths: list[Path]) -> None:
    """Ask the kernel to forget the pages of each file (no effect where fadvise is missing)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def size_and_mtime(path: Path) -> dict:
    """The stamp as it was before the content check."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def whole_file(path: Path) -> str:
    """sha256 of every byte, for comparison."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def ms_per_call(paths: list[Path], stamp: Callable[[Path], object]) -> float:
    """Mean milliseconds of ``stamp(path)`` over ``paths``."""
    start = time.perf_counter()
    for path in paths:
        stamp(path)
    return (time.perf_counter() - start) * 1000.0 / len(paths)


@click.command()
@click.option("--count", default=1000, show_default=True, help="How many photos to stamp.")
@click.option("--folder", type=click.Path(path_type=Path), default=None,
              help="Write the photos here (a new folder, removed at the end) instead of a temp folder.")
def main(count: int, folder: Path | None) -> None:
    """Time resume stamps with and without the content check."""
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="fusionmat-resume-cost-"))
    else:
        try:
            folder.mkdir(parents=True)  # a new folder only: it is removed at the end
        except FileExistsError:
            raise click.BadParameter(f"{folder} exists; give a new folder", param_hint="--folder") from None
    try:
        paths = write_photos(folder, count)
        sizes = [p.stat().st_size for p in paths]
        click.echo(f"{count} JPEGs in {folder}: {min(sizes) / 1e6:.2f}-{max(sizes) / 1e6:.2f} MB, "
                   f"{sum(sizes) / 1e9:.2f} GB in all")
        click.echo(f"{'stamp':24s} {'cold ms':>9s} {'warm ms':>9s}")
        for name, stamp in (("size+mtime", size_and_mtime), ("+ head/tail sha256", source_stamp),
                            ("whole-file sha256", whole_file)):
            drop_cache(paths)
            cold = ms_per_call(paths, stamp)
            warm = ms_per_call(paths, stamp)
            click.echo(f"{name:24s} {cold:9.3f} {warm:9.3f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

if __name__ == "__main__":
    main()
