"""``fusionmat predict``: mattes, previews and cut-outs for the given images."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import (build_engine, build_preprocessor, echo_outcomes, engine_matte, engine_options,
                                  preprocess_options)
from fusionmat.outputs import OutputPlan, write_each


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the outputs (default: next to each input).")
@click.option("--cutout", is_flag=True, help="Also write <stem>_cutout.png (RGBA, foreground colours estimated).")
@engine_options
@preprocess_options
def predict(images, out_dir, cutout, engine, weights_file, size, partial, refine, threads,
            rotate, crop, aspect, steps_dir):
    """Write <stem>_matting.png and <stem>_concat.jpg for each IMAGE.

    The matte is 8-bit, the size of the input after its EXIF orientation is
    applied; the preview shows input | matte side by side. Outputs go next to
    each input unless --out is given; an input is never overwritten.

    Before matting, a tilted or sideways subject is turned upright and a small
    one is cropped to (--rotate, --crop; both automatic by default); the matte
    is mapped back onto the photo as given.

    \b
    Examples:
      fusionmat predict photo.jpg
      fusionmat predict shots/*.jpg --out mattes/ --cutout
      fusionmat predict photo.jpg --engine latefusion --weights latefusion.h5
      fusionmat predict thumb.jpg --aspect 3:4 --save-steps steps/
    """
    loaded = build_engine(engine, threads, weights=weights_file, size=size, partial=partial)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads)
    alpha_for = engine_matte(loaded, refine, preprocessor, steps_dir)
    echo_outcomes(write_each(images, out_dir, OutputPlan(cutout=cutout), alpha_for), shown="matting")
