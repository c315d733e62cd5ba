"""Scaling benchmark: local threads against Ray Data on this machine, and the driver's memory.

Usage:
    python benchmarks/scaling.py [--count 12] [--tiny 10000] [--engine modnet]

1. Throughput on ``--count`` 1 MP photos (benchmarks/speed.py's astronaut, 1024x1024):
   `fusionmat batch` with local threads, then `--executor ray` with 1 and 2 actors. Each run is
   a fresh process. From the run's --json report: seconds per image over the run (after the
   driver loaded its model; for Ray this includes starting Ray and the actors' model loading),
   and 'steady', the same after the first result (the per-image cost once running); the
   process's wall time too.
2. The driver's memory over ``--tiny`` tiny images (48x48, `--engine selfie --rotate none
   --crop none`, so the per-image work is small and the driver's bookkeeping shows): the run is
   done through the library in this process, and its RSS is sampled at the start, after the
   plan, and at the end (`0` skips it).
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from PIL import Image


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(folder: Path, out: Path, engine: str, extra: list[str]) -> tuple[float, float, float]:
    """(seconds per image from the report, the same after the first result, wall seconds) of one
    fresh `fusionmat batch` process."""
    report = out.with_suffix(".json")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fusionmat", "batch", str(folder), "--out", str(out), "--overwrite",
                    "--engine", engine, "--json", str(report), *extra], check=True, capture_output=True)
    wall = time.perf_counter() - start
    data = json.loads(report.read_text())
    return 1.0 / data["images_per_second"], data["steady_seconds_per_image"], wall


@click.command()
@click.option("--count", default=12, show_default=True, help="1 MP photos for the throughput runs.")
@click.option("--tiny", default=10000, show_default=True, help="Tiny images for the driver-memory run (0: skip).")
@click.option("--engine", default="modnet", show_default=True)
def main(count, tiny, engine):
    from skimage import data

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "photos"
        folder.mkdir()
        photo = Image.fromarray(data.astronaut()).resize((1024, 1024), Image.LANCZOS)
        for i in range(count):
            photo.save(folder / f"p{i:03d}.jpg", quality=92)
        click.echo(f"{count} photos of 1 MP, engine {engine}:")
        click.echo(f"{'executor':28s} {'s/image':>8s} {'steady':>8s} {'wall s':>8s}")
        for label, extra in (("local threads (--workers 2)", ["--workers", "2"]),
                             ("ray, 1 actor of 2 CPUs", ["--executor", "ray", "--concurrency", "1",
                                                         "--cpus-per-actor", "2"]),
                             ("ray, 2 actors of 1 CPU", ["--executor", "ray", "--concurrency", "2"])):
            per_image, steady, wall = run(folder, tmp / label.replace(" ", "_"), engine, extra)
            click.echo(f"{label:28s} {per_image:8.3f} {steady:8.3f} {wall:8.1f}")
        if tiny:
            driver_memory(tmp, tiny)


def driver_memory(tmp: Path, count: int) -> None:
    import fusionmat

    folder = tmp / "tiny"
    folder.mkdir()
    Image.fromarray(__import__("skimage").data.astronaut()).resize((48, 48)).save(folder / "t00000.png")
    source = (folder / "t00000.png").read_bytes()
    for i in range(1, count):
        (folder / f"t{i:05d}.png").write_bytes(source)
    samples = {"start": rss_mb()}
    seen = [0]

    def sample(event) -> None:
        seen[0] += 1
        if seen[0] == 1:
            samples["first image"] = rss_mb()
        elif seen[0] == count // 2:
            samples["half"] = rss_mb()

    start = time.perf_counter()
    report = fusionmat.batch(folder, tmp / "tiny_out", engine="selfie", rotate="none", crop="none",
                             executor="ray", concurrency=2, on_outcome=sample)
    samples["end"] = rss_mb()
    click.echo(f"\n{count} tiny images on Ray (2 actors): {len(report.done)} done, {len(report.failed)} failed "
               f"in {time.perf_counter() - start:.0f} s; driver RSS (MB): "
               + ", ".join(f"{k} {v:.0f}" for k, v in samples.items()))


if __name__ == "__main__":
    main()
