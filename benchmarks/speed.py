"""Speed benchmark: cold `fusionmat predict` wall time and peak RSS at 1 MP and 12 MP.

Usage:
    python benchmarks/speed.py [--engine selfie] [--repeat 3]

Test photos are made from scikit-image's astronaut, upscaled (1 MP: 1024x1024,
12 MP: 4000x3000). Each run is a fresh process, so import and model-load time count.
Prints the I/O floor (decode + encode of the same outputs, no model) next to each figure.
"""
from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from PIL import Image

from fusionmat.engines import DEFAULT_ENGINE

SIZES = {"1MP": (1024, 1024), "12MP": (4000, 3000)}

IO_FLOOR = """
import sys, numpy as np
from fusionmat.read import read_image
from fusionmat.write import save_image, concat_preview
img = read_image(sys.argv[1]); alpha = img[:, :, 0]
save_image(sys.argv[2] + '/m.png', alpha); save_image(sys.argv[2] + '/c.jpg', concat_preview(img, alpha))
"""


def make_photo(folder: Path, name: str, size: tuple[int, int]) -> Path:
    from skimage import data

    path = folder / f"{name}.jpg"
    Image.fromarray(data.astronaut()).resize(size, Image.LANCZOS).save(path, quality=92)
    return path


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024.0


@click.command()
@click.option("--engine", default=DEFAULT_ENGINE, show_default=True)
@click.option("--repeat", default=3, show_default=True)
def main(engine, repeat):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, size in SIZES.items():
            photo = make_photo(tmp, name, size)
            runs = [timed([sys.executable, "-m", "fusionmat", "predict", str(photo), "--engine", engine,
                           "--out", str(tmp / "out")]) for _ in range(repeat)]
            floor = [timed([sys.executable, "-c", IO_FLOOR, str(photo), str(tmp)]) for _ in range(repeat)]
            # ru_maxrss of children is the max over all children so far: report per size in order
            click.echo(f"{name:5s} {size[0]}x{size[1]}: predict cold median {statistics.median(r[0] for r in runs):.2f} s "
                       f"(min {min(r[0] for r in runs):.2f}), peak RSS {max(r[1] for r in runs):.0f} MB; "
                       f"I/O floor {statistics.median(f[0] for f in floor):.2f} s")


if __name__ == "__main__":
    main()
