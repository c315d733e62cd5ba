"""``fusionmat compose``: put the people in a photo onto a new background."""
from __future__ import annotations

import functools
from pathlib import Path

import click

from fusionmat.cli.common import (background_options, build_engine, build_preprocessor, echo_outcomes, engine_matte,
                                  engine_options, output_options, output_plan, preprocess_options,
                                  refine_method_or_exit)
from fusionmat.errors import FusionmatError
from fusionmat.outputs.plan import write_each


def matte_for(path: Path, shape: tuple[int, int]):
    """A matte file as HxW float32 in [0, 1] (:func:`fusionmat.io.read.read_matte`); it must have the photo's size."""
    from fusionmat.io.read import read_matte

    alpha = read_matte(path)
    if alpha.shape != shape:
        raise FusionmatError(f"{path}: matte is {alpha.shape[1]}x{alpha.shape[0]}, "
                             f"the photo is {shape[1]}x{shape[0]}")
    return alpha


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@functools.partial(background_options, required=True)
@click.option("--matte", "matte_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Use this matte (e.g. an earlier <stem>_matting.png) instead of running an engine; one IMAGE only.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the outputs (default: next to each input).")
@click.option("--png", is_flag=True, hidden=True, help="Same as --format png (kept for older scripts).")
@click.option("--overwrite", is_flag=True, help="Redo composites that are up to date (same photo, same options).")
@output_options
@engine_options
@preprocess_options
def compose(images, background, fit, composite_format, quality, matte_file, out_dir, png, overwrite, engine,
            weights_file, size, partial, refine, threads, rotate, crop, aspect, steps_dir):
    """Write <stem>_composite.jpg: each IMAGE's people on a new background.

    Foreground colours are estimated (pymatting's multilevel method), so hair
    carries none of the old background's colour into the new one. A translucent
    background (#RRGGBBAA, transparent) gives a PNG with an alpha channel. A
    composite made from the same photo with the same options is skipped
    (--overwrite redoes it).
    For one output file (-o x.png, or standard output) use `fusionmat predict
    IMAGE -o FILE --bg ...`.

    \b
    Examples:
      fusionmat compose photo.jpg --bg beach.jpg
      fusionmat compose photo.jpg --bg white --format png
      fusionmat compose photo.jpg --bg '#00000080'
      fusionmat compose photo.jpg --bg blur:40
      fusionmat compose photo.jpg --bg beach.jpg --matte photo_matting.png
    """
    if matte_file is not None and len(images) != 1:
        raise click.UsageError("--matte goes with exactly one IMAGE")
    plan = output_plan(background=background, fit=fit, composite_format="png" if png else composite_format,
                       quality=quality, matte_and_preview=False)
    from fusionmat.run.batch import batch_key

    if matte_file is not None:
        key = batch_key(None, "none", None, plan, matte=matte_file)
        echo_outcomes(write_each(images, out_dir, plan, lambda _, rgb: matte_for(matte_file, rgb.shape[:2]),
                                 also_inputs=(matte_file,), key=key, overwrite=overwrite),
                      shown="composite", total=len(images))
        return
    loaded = build_engine(engine, threads, weights=weights_file, size=size, partial=partial)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads)
    key = batch_key(loaded, refine_method_or_exit(loaded, refine), preprocessor, plan)
    echo_outcomes(write_each(images, out_dir, plan, engine_matte(loaded, refine, preprocessor, steps_dir), key=key,
                             overwrite=overwrite), shown="composite", total=len(images))
