"""Agreement with the released Late Fusion model on the released project's sample photos.

The samples folder holds photos ``X.jpg`` beside the released model's matte ``X_matting.png``.
They have no ground truth, so this is a check of agreement on real photos (not of accuracy):
it prints, per photo, SAD and MSE of our matte against the released one, and the means.
Engine options (``--option long_side=640``, repeatable) let a setting be compared on real
photos as well as on the synthetic composites of ../shared/bench.

Usage:
    python benchmarks/samples.py ../shared/samples/test_images [--engine modnet] [--option long_side=640]
"""
from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from fusionmat.engines import DEFAULT_ENGINE, ENGINES, load_engine
from fusionmat.evaluate.metrics import mse, sad
from fusionmat.io.read import read_image, read_matte
from fusionmat.matting.pipeline import matte_image
from fusionmat.matting.resize import resize_to
from fusionmat.preprocess.chain import Preprocessor, Settings, parse_crop, parse_rotate


def pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(photo, released matte) for every photo of ``folder`` that has a ``_matting.png``."""
    found = []
    for photo in sorted(folder.glob("*.jpg")):
        if photo.stem.endswith(("_concat", "_matting")):
            continue
        matte = photo.with_name(photo.stem + "_matting.png")
        if matte.is_file():
            found.append((photo, matte))
    return found


def parse_options(values: tuple[str, ...]) -> dict[str, object]:
    """``key=value`` pairs; values that read as numbers become numbers."""
    options: dict[str, object] = {}
    for item in values:
        key, _, value = item.partition("=")
        for kind in (int, float):
            try:
                options[key] = kind(value)
                break
            except ValueError:
                continue
        else:
            options[key] = {"true": True, "false": False}.get(value.lower(), value)
    return options


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(list(ENGINES)), default=DEFAULT_ENGINE)
@click.option("--option", "engine_options", multiple=True, help="Engine option KEY=VALUE (repeatable).")
@click.option("--rotate", default="auto", show_default=True)
@click.option("--crop", "crop_", default="auto", show_default=True)
def main(folder, engine, engine_options, rotate, crop_):
    found = pairs(folder)
    if not found:
        raise click.ClickException(f"{folder}: no X.jpg with X_matting.png beside it")
    loaded = load_engine(engine, **parse_options(engine_options))
    preprocessor = Preprocessor(Settings(rotate=parse_rotate(rotate), crop=parse_crop(crop_)))
    rows = []
    click.echo(f"{'photo':32s} {'SAD':>8s} {'MSE':>8s} {'sec':>6s}")
    for photo, released in found:
        image = read_image(photo, dtype=np.uint8)
        reference = read_matte(released)
        if reference.shape != image.shape[:2]:  # the released model padded some photos
            reference = np.clip(resize_to(reference, *image.shape[:2]), 0.0, 1.0)
        start = time.perf_counter()
        alpha = matte_image(image, loaded, preprocessor=preprocessor)
        seconds = time.perf_counter() - start
        row = (sad(alpha, reference), mse(alpha, reference), seconds)
        rows.append(row)
        click.echo(f"{photo.name:32s} {row[0]:8.3f} {row[1]:8.4f} {row[2]:6.2f}")
    mean = np.mean(rows, axis=0)
    click.echo(f"{'MEAN (' + str(len(rows)) + ' photos)':32s} {mean[0]:8.3f} {mean[1]:8.4f} {mean[2]:6.2f}")


if __name__ == "__main__":
    main()
