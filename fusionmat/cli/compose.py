"""``fusionmat compose``: put the people in a photo onto a new background."""
from __future__ import annotations

import functools
from pathlib import Path

import click

from fusionmat.cli.common import (
    background_options,
    engine_options,
    mask_options,
    output_options,
    output_plan,
    preprocess_options,
    run_planned,
    session_or_exit,
)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@functools.partial(background_options, required=True)
@click.option("--matte", "matte_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Use this matte (e.g. an earlier <stem>_matting.png) instead of running an engine; one IMAGE only.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              callback=lambda ctx, param, value: output_folder(value),
              help="Folder for the outputs (default: next to each input).")
@click.option("--overwrite", is_flag=True, help="Redo composites that are up to date (same photo, same options).")
@output_options
@engine_options
@preprocess_options
@mask_options
def compose(images, background, fit, composite_format, quality, matte_file, out_dir, overwrite, engine, engine_opts,
            refine, threads, rotate, crop, aspect, steps_dir, mask):
    """Write <stem>_composite.jpg: each IMAGE's people on a new background.

    Foreground colours are estimated (pymatting's multilevel method), so hair
    carries none of the old background's colour into the new one. A translucent
    background (#RRGGBBAA, transparent) gives a PNG with an alpha channel. A
    composite made from the same photo with the same options is skipped
    (--overwrite redoes it). A run with another --bg replaces <stem>_composite.*:
    to keep composites on several backgrounds, give each its own -o folder.
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
    plan = output_plan(background=background, fit=fit, composite_format=composite_format, quality=quality,
                       matte_and_preview=False, mask=mask)
    from fusionmat.run.batch import session_key
    from fusionmat.run.planning import plan_jobs, run_inputs
    from fusionmat.run.process import Session

    if matte_file is not None:
        session = Session(None, plan=plan)
    else:
        _, session = session_or_exit(engine, threads, refine, plan, rotate=rotate, crop=crop, aspect=aspect,
                                     steps_dir=steps_dir, engine_opts=engine_opts)
    session.inputs = run_inputs(images, plan, matte_file)
    planned = plan_jobs(images, (lambda path: out_dir) if out_dir is not None else (lambda path: path.parent), plan,
                        key=session_key(session, matte=matte_file), inputs=session.inputs, overwrite=overwrite,
                        matte=matte_file)
    run_planned(planned, session, shown="composite")


def output_folder(value: Path | None) -> Path | None:
    """``-o`` of compose is a folder: a name with an image suffix (card.jpg) is a usage error
    pointing to ``predict -o FILE``."""
    from fusionmat.io.folder import IMAGE_SUFFIXES

    if value is not None and value.suffix.lower() in IMAGE_SUFFIXES and not value.is_dir():
        raise click.BadParameter(f"{value}: compose writes into a folder; for one file use: fusionmat predict "
                                 f"IMAGE -o {value} --bg ...", param_hint="-o")
    return value
