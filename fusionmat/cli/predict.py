"""``fusionmat predict``: mattes, previews and cut-outs for the given images."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import (build_engine, build_preprocessor, echo_error, engine_options, preprocess_options,
                                  reporting_warnings, steps_saver)
from fusionmat.cli.outputs import OutputPlan, output_paths, write_outputs
from fusionmat.errors import FusionmatError


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
    from fusionmat.pipeline import matte_image
    from fusionmat.read import read_image
    from fusionmat.write import refuse_inputs

    loaded = build_engine(engine, threads, weights=weights_file, size=size, partial=partial)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads)
    plan = OutputPlan(cutout=cutout)
    inputs = {p.resolve() for p in images}
    claimed: dict[Path, Path] = {}
    failed = 0
    for image_path in images:
        try:
            paths = output_paths(image_path, out_dir if out_dir is not None else image_path.parent, plan)
            refuse_inputs(list(paths.values()), inputs)
            clash = next((claimed[p.resolve()] for p in paths.values() if p.resolve() in claimed), None)
            if clash is not None:
                raise FusionmatError(f"{image_path}: its outputs would overwrite those of {clash}; use --out")
            rgb = read_image(image_path)
            alpha = reporting_warnings(str(image_path), matte_image, rgb, loaded, refine=refine,
                                       preprocessor=preprocessor, on_steps=steps_saver(steps_dir, image_path.stem))
            write_outputs(rgb, alpha, paths, plan)
            claimed.update({p.resolve(): image_path for p in paths.values()})
            click.echo(f"{image_path} -> {paths['matting']}")
        except FusionmatError as exc:
            failed += 1
            echo_error(str(exc))
    if failed:
        raise click.ClickException(f"{failed} of {len(images)} image(s) failed")
