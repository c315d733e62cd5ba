"""Speed benchmark: cold `fusionmat predict` wall time and peak RSS at 1 MP and 12 MP, and
`fusionmat batch` throughput (every output, and `--only matte`).

Usage:
    python benchmarks/speed.py [--engine modnet|selfie|latefusion] [--repeat 3] [--batch-count 8] [--folder DIR]

Test photos are made from scikit-image's astronaut, upscaled (1 MP: 1024x1024,
12 MP: 4000x3000). Each run is a fresh process, so import and model-load time count.
Prints the I/O floor (decode + encode of the same outputs, no model) next to each figure.
Batch throughput comes from the run's --json report (images done / seconds after the model
is loaded), on --batch-count copies at each size and on --folder (e.g. ../shared/bench/plain/image).
"""
from __future__ import annotations

import json
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
from fusionmat.io.read import read_image
from fusionmat.io.write import save_image, preview_image
img = read_image(sys.argv[1], dtype=np.uint8); alpha = read_image(sys.argv[3], dtype=np.uint8)[:, :, 0]
save_image(sys.argv[2] + '/m.png', alpha); save_image(sys.argv[2] + '/c.jpg', preview_image(img, alpha))
"""
"""The CLI's own reading and writing (8-bit photo, PNG matte, JPEG preview) with no model: the
photo is read and the matte predict wrote for it is written again, with its preview."""


def make_photo(folder: Path, name: str, size: tuple[int, int]) -> Path:
    from skimage import data

    path = folder / f"{name}.jpg"
    Image.fromarray(data.astronaut()).resize(size, Image.LANCZOS).save(path, quality=92)
    return path


PEAK_RSS = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command, run under a fresh watcher process."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, *cmd], check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return wall, int(out.stdout.split()[-1]) / 1024.0


def batch_rate(folder: Path, out: Path, engine: str, workers: int, only: str | None = None
               ) -> tuple[float, float, float]:
    """(images/s, seconds per image, peak RSS MB) of one `fusionmat batch` run over ``folder``
    (``only``: its --only)."""
    report = out / "report.json"
    _, rss = timed([sys.executable, "-m", "fusionmat", "batch", str(folder), "--out", str(out / "o"),
                    "--overwrite", "--engine", engine, "--workers", str(workers), "--json", str(report),
                    *(["--only", only] if only else [])])
    data = json.loads(report.read_text())
    rate = data["images_per_second"]
    return rate, (1.0 / rate if rate else float("inf")), rss


@click.command()
@click.option("--engine", default=DEFAULT_ENGINE, show_default=True)
@click.option("--repeat", default=3, show_default=True)
@click.option("--batch-count", default=8, show_default=True, help="Photos per size for the batch runs.")
@click.option("--workers", default="1,2", show_default=True, help="Comma-separated --workers values to try.")
@click.option("--folder", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Also measure batch throughput on this folder.")
@click.option("--skip-cold", is_flag=True, help="Only the batch figures.")
def main(engine, repeat, batch_count, workers, folder, skip_cold):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folders = {}
        for name, size in SIZES.items():
            folders[name] = tmp / f"batch_{name}"
            folders[name].mkdir()
            photo = make_photo(tmp, name, size)
            for i in range(batch_count):
                (folders[name] / f"{i}.jpg").write_bytes(photo.read_bytes())
        if folder is not None:
            folders[str(folder)] = folder
        for label, path in folders.items():
            for w in (int(v) for v in workers.split(",")):
                for only in (None, "matte"):  # every output, then the matte alone
                    rate, per, rss = batch_rate(path, tmp, engine, w, only)
                    click.echo(f"batch {label} --workers {w}{' --only ' + only if only else ''}: {rate:.2f} "
                               f"images/s ({per:.3f} s per image), peak RSS {rss:.0f} MB")
        if skip_cold:
            return
        for name, size in SIZES.items():
            photo = make_photo(tmp, name, size)
            # --overwrite: every run mattes the photo (without it, runs 2 and 3 would time a skip of
            # the outputs run 1 wrote)
            runs = [timed([sys.executable, "-m", "fusionmat", "predict", str(photo), "--engine", engine,
                           "--out", str(tmp / "out"), "--overwrite"]) for _ in range(repeat)]
            matte = tmp / "out" / f"{photo.stem}_matting.png"
            floor = [timed([sys.executable, "-c", IO_FLOOR, str(photo), str(tmp), str(matte)]) for _ in range(repeat)]
            cold = statistics.median(r[0] for r in runs)
            click.echo(f"{name:5s} {size[0]}x{size[1]}: predict cold median {cold:.2f} s "
                       f"(min {min(r[0] for r in runs):.2f}), peak RSS {max(r[1] for r in runs):.0f} MB; "
                       f"I/O floor {statistics.median(f[0] for f in floor):.2f} s")


if __name__ == "__main__":
    main()
