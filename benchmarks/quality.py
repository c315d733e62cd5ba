"""Quality benchmark: run an engine on a benchmark folder and print SAD, MSE, Grad, Conn.

The scores come from the same code as `fusionmat evaluate` (fusionmat/evaluate/scores.py); this
script adds the inference and its timing, without writing the mattes to disk.

Usage:
    python benchmarks/quality.py ../shared/bench/plain [--engine modnet|selfie|latefusion] [--refine auto]

A benchmark folder has ``index.json`` (a list of {"image", "alpha", ...}) with image and
ground-truth matte paths relative to it. Prints one row per image, then the means.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from fusionmat.engines import DEFAULT_ENGINE, ENGINES, load_engine
from fusionmat.evaluate.metrics import METRICS
from fusionmat.evaluate.scores import evaluate_pair
from fusionmat.io.read import read_image, read_matte
from fusionmat.matting.pipeline import matte_image
from fusionmat.matting.refine import REFINE_CHOICES
from fusionmat.preprocess.chain import NONE, NOTHING, Preprocessor, Settings, parse_aspect, parse_crop, parse_rotate


@click.command()
@click.argument("bench_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(list(ENGINES)), default=DEFAULT_ENGINE)
@click.option("--weights", "weights_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="latefusion's .h5 (its -E weights=FILE).")
@click.option("--refine", type=click.Choice(REFINE_CHOICES), default="auto")
@click.option("--rotate", default="auto", show_default=True, help="auto, none or degrees.")
@click.option("--crop", "crop_", default="auto", show_default=True, help="auto, none or X,Y,W,H.")
@click.option("--aspect", default="none", show_default=True,
              help="none, a W:H ratio, or 'index' for each entry's original_size.")
@click.option("--limit", type=int, default=None, help="Only the first N entries.")
def main(bench_dir, engine, weights_file, refine, rotate, crop_, aspect, limit):
    entries = json.loads((bench_dir / "index.json").read_text())[:limit]
    options = {"weights": weights_file} if weights_file else {}
    loaded = load_engine(engine, **options)
    settings = Settings(rotate=parse_rotate(rotate), crop=parse_crop(crop_),
                        aspect=NONE if aspect == "index" else parse_aspect(aspect))
    preprocessor = Preprocessor(settings, tilt=loaded.tilt) if settings != NOTHING else None
    rows = []
    header = f"{'image':58s} " + " ".join(f"{m.upper():>8s}" for m in METRICS) + f" {'sec':>6s}"
    click.echo(header)
    for entry in entries:
        image = read_image(bench_dir / entry["image"], dtype=np.uint8)  # 8-bit, as the CLI reads photos
        gt = read_matte(bench_dir / entry["alpha"])
        start = time.perf_counter()
        chain = preprocessor
        if aspect == "index":
            true_ratio = tuple(entry["original_size"])  # [width, height]
            chain = Preprocessor(replace(settings, aspect=true_ratio), detectors=chain.detectors if chain else None,
                                 tilt=loaded.tilt)
        alpha = matte_image(image, loaded, refine=refine, preprocessor=chain)
        seconds = time.perf_counter() - start
        scores = evaluate_pair(alpha, gt) | {"sec": seconds}
        rows.append(scores)
        click.echo(f"{entry['image']:58s} " + " ".join(f"{scores[m]:8.4f}" for m in METRICS) + f" {seconds:6.2f}")
    means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    click.echo(f"{'MEAN (' + str(len(rows)) + ' images)':58s} " + " ".join(f"{means[m]:8.4f}" for m in METRICS)
               + f" {means['sec']:6.2f}")


if __name__ == "__main__":
    main()
