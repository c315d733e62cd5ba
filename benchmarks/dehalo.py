"""De-halo check: composite with the true matte onto a flat colour, estimated vs raw foreground.

Usage:
    python benchmarks/dehalo.py ../shared/bench/plain [--colour '#00b140'] [--rvm]

For each entry (which carries the true foreground ``fg``), the exact composite is
``alpha*fg + (1-alpha)*colour``. Prints the mean absolute error inside the soft band
(0.02 < alpha < 0.98) of (a) the raw image pixels and (b) fusionmat's estimated foreground,
composited with the same true matte, and how much lower (b) is. With ``--rvm``, also (c) the
foreground colours Robust Video Matting outputs (``fgr``) for the photo, the same way.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from fusionmat.evaluate.metrics import soft_band_error
from fusionmat.io.read import read_image
from fusionmat.matting.foreground import estimate_foreground
from fusionmat.outputs.compose import composite, parse_background


def dehalo_errors(image, alpha, true_fg, colour) -> tuple[float, float]:
    """Soft-band error against the exact composite: (raw pixels, estimated foreground)."""
    flat = np.broadcast_to(np.asarray(colour, np.float32), image.shape)
    exact = composite(true_fg, alpha, flat)
    return tuple(soft_band_error(composite(fg, alpha, flat), exact, alpha)
                 for fg in (image, estimate_foreground(image, alpha)))


@click.command()
@click.argument("bench_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--colour", default="#00b140", show_default=True, help="Flat background colour.")
@click.option("--rvm", "with_rvm", is_flag=True, help="Also RVM's own foreground output (fgr).")
def main(bench_dir, colour, with_rvm):
    rgb = parse_background(colour).colour
    rows = []
    rvm = None
    if with_rvm:
        from fusionmat.engines import load_engine

        rvm = load_engine("rvm", people_only=False)
    for entry in json.loads((bench_dir / "index.json").read_text()):
        image = read_image(bench_dir / entry["image"])
        alpha = read_image(bench_dir / entry["alpha"])[..., 0]
        true_fg = read_image(bench_dir / entry["fg"])
        raw, est = dehalo_errors(image, alpha, true_fg, rgb)
        row = [raw, est]
        if rvm is not None:
            from fusionmat.evaluate.metrics import soft_band_error
            from fusionmat.matting.resize import resize_to

            fgr = rvm.run(resize_to(image, *rvm.input_size(*image.shape[:2])))[1]
            fgr = np.clip(resize_to(fgr, *image.shape[:2]), 0, 1).astype(np.float32)
            flat = np.broadcast_to(np.asarray(rgb, np.float32), image.shape)
            row.append(soft_band_error(composite(fgr, alpha, flat), composite(true_fg, alpha, flat), alpha))
        rows.append(row)
        click.echo(f"{entry['image']:58s} raw {raw:.4f}  estimated {est:.4f}"
                   + (f"  rvm fgr {row[2]:.4f}" if rvm is not None else ""))
    means = np.mean(rows, axis=0)
    raw, est = means[:2]
    click.echo(f"MEAN ({len(rows)} images): raw pixels {raw:.4f}, estimated foreground {est:.4f}, "
               f"{100 * (1 - est / raw):.1f} % lower" + (f"; RVM's fgr {means[2]:.4f}" if rvm is not None else ""))


if __name__ == "__main__":
    main()
