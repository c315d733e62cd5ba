"""``fusionmat compose``: put the people in a photo onto a new background."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import (background_or_exit, build_engine, build_preprocessor, echo_outcomes,
                                  engine_matte, engine_options, preprocess_options)
from fusionmat.outputs import OutputPlan, write_each
from fusionmat.compose import FITS
from fusionmat.errors import FusionmatError


def matte_for(path: Path, shape: tuple[int, int]):
    """A matte file as HxW float32 in [0, 1] (:func:`fusionmat.read.read_matte`); it must have the photo's size."""
    from fusionmat.read import read_matte

    alpha = read_matte(path)
    if alpha.shape != shape:
        raise FusionmatError(f"{path}: matte is {alpha.shape[1]}x{alpha.shape[0]}, "
                             f"the photo is {shape[1]}x{shape[0]}")
    return alpha


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--bg", "background", required=True, metavar="FILE|#RRGGBB|blur[:SIGMA]",
              help="New background: a picture, a colour, or the photo's own background blurred "
                   "(sigma per 1000 px of the long side, default 25).")
@click.option("--fit", type=click.Choice(FITS), default="cover", show_default=True,
              help="How a background picture is fitted: cover (fill and crop the centre), "
                   "contain (fit inside, pad) or stretch.")
@click.option("--matte", "matte_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Use this matte (e.g. an earlier <stem>_matting.png) instead of running an engine; one IMAGE only.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the outputs (default: next to each input).")
@click.option("--png", is_flag=True, help="Write <stem>_composite.png instead of .jpg.")
@engine_options
@preprocess_options
def compose(images, background, fit, matte_file, out_dir, png, engine, weights_file, size, partial, refine,
            threads, rotate, crop, aspect, steps_dir):
    """Write <stem>_composite.jpg: each IMAGE's people on a new background.

    Foreground colours are estimated (pymatting's multilevel method), so hair
    carries none of the old background's colour into the new one.

    \b
    Examples:
      fusionmat compose photo.jpg --bg beach.jpg
      fusionmat compose photo.jpg --bg '#ffffff' --png
      fusionmat compose photo.jpg --bg blur:40
      fusionmat compose photo.jpg --bg beach.jpg --matte photo_matting.png
    """
    if matte_file is not None and len(images) != 1:
        raise click.UsageError("--matte goes with exactly one IMAGE")
    plan = OutputPlan(background=background_or_exit(background, fit), composite_format="png" if png else "jpg",
                      matte_and_preview=False)
    if matte_file is not None:
        echo_outcomes(write_each(images, out_dir, plan, lambda _, rgb: matte_for(matte_file, rgb.shape[:2]),
                                 also_inputs=(matte_file,)), shown="composite")
        return
    loaded = build_engine(engine, threads, weights=weights_file, size=size, partial=partial)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads)
    echo_outcomes(write_each(images, out_dir, plan, engine_matte(loaded, refine, preprocessor, steps_dir)),
                  shown="composite")
