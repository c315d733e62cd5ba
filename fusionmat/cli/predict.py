"""``fusionmat predict``: mattes, previews, cut-outs and composites for the given images."""
from __future__ import annotations

import io
from pathlib import Path

import click

from fusionmat.cli.common import (background_options, build_engine, build_preprocessor, console, echo_outcomes,
                                  engine_matte, engine_options, output_options, output_plan, preprocess_options)
from fusionmat.errors import FusionmatError
from fusionmat.outputs.plan import ONE_FILE_KINDS

STDIO = "-"


def one_file_target(out: str | None) -> bool:
    """True when ``-o`` names one output file: an image suffix, ``-`` for standard output, or an
    existing target that is neither a folder nor a regular file (``/dev/stdout``, a FIFO)."""
    from fusionmat.io.write import FORMATS

    if out is None:
        return False
    if out == STDIO or is_stream(out):
        return True
    path = Path(out)
    return path.suffix.lower() in FORMATS and not path.is_dir()


def is_stream(out: str) -> bool:
    """A target to write into, not a file to replace: ``/dev/stdout``, a FIFO (see write.is_special)."""
    from fusionmat.io.write import is_special

    return is_special(out) and not Path(out).is_dir()


@click.command()
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--out", "out", default=None, metavar="FOLDER|FILE|-",
              help="Where outputs go: a folder (default: next to each input), or one file for a single "
                   "IMAGE (x.png, x.webp, x.jpg; - for standard output) holding only --only.")
@click.option("--only", type=click.Choice(ONE_FILE_KINDS), default=None,
              help="With -o FILE: what the file holds [default: composite with --bg, else cutout].")
@click.option("--cutout", is_flag=True, help="Also write <stem>_cutout.png (RGBA, foreground colours estimated).")
@background_options
@click.option("--overwrite", is_flag=True, help="Redo images whose outputs are up to date (same photo, same options).")
@output_options
@engine_options
@preprocess_options
def predict(images, out, only, cutout, background, fit, composite_format, quality, overwrite, engine, weights_file,
            size, partial, refine, threads, rotate, crop, aspect, steps_dir):
    """Write <stem>_matting.png and <stem>_concat.jpg for each IMAGE.

    The matte is 8-bit, the size of the input after its EXIF orientation is
    applied; the preview shows input | matte side by side. Outputs go next to
    each input unless -o is given; an input is never overwritten, and an image
    whose outputs were made from the same file with the same options is
    skipped (--overwrite redoes it). IMAGE - reads standard input (with -o).

    Before matting, a tilted or sideways subject is turned upright and a small
    one is cropped to (--rotate, --crop; both automatic by default); the matte
    is mapped back onto the photo as given.

    \b
    Examples:
      fusionmat predict photo.jpg
      fusionmat predict shots/*.jpg -o mattes/ --cutout --bg white
      fusionmat predict photo.jpg -o cutout.png                # just the RGBA cut-out
      fusionmat predict photo.jpg -o card.jpg --bg '#f0f0f0'    # just the composite
      cat photo.jpg | fusionmat predict - -o - > cutout.png
      fusionmat predict photo.jpg --engine latefusion --weights latefusion.h5
    """
    single = one_file_target(out)
    if STDIO in images and not single:
        raise click.UsageError("IMAGE - (standard input) needs -o FILE or -o -")
    if single and len(images) != 1:
        raise click.UsageError(f"-o {out} writes one file: give exactly one IMAGE (or -o FOLDER)")
    if only is not None and not single:
        raise click.UsageError("--only goes with -o FILE (one output file)")
    kind = only or ("composite" if background else "cutout")
    if single and kind == "composite" and not background:
        raise click.UsageError("--only composite needs --bg")
    plan = output_plan(cutout=cutout, background=background, fit=fit, composite_format=composite_format,
                       quality=quality)
    if single:
        target_format = _one_file_format(out, kind, plan)
    loaded = build_engine(engine, threads, weights=weights_file, size=size, partial=partial)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads)
    alpha_for = engine_matte(loaded, refine, preprocessor, steps_dir)
    if single:
        _write_one_file(images[0], out, kind, plan, target_format, alpha_for)
        return
    from fusionmat.matting.pipeline import refine_method
    from fusionmat.outputs.plan import write_each
    from fusionmat.run.batch import batch_key

    key = batch_key(loaded, refine_method(loaded, refine), preprocessor, plan)
    paths = [Path(p) for p in images]
    out_dir = Path(out) if out is not None else None
    echo_outcomes(write_each(paths, out_dir, plan, alpha_for, key=key, overwrite=overwrite), shown="matting",
                  total=len(paths))


def _one_file_format(out: str, kind: str, plan) -> str:
    """The Pillow format of the one output file; a usage error for one that cannot hold ``kind``."""
    from fusionmat.io.write import format_of

    if out == STDIO or is_stream(out):
        chosen = plan.composite_format if kind == "composite" else "auto"
        fmt = {"auto": "PNG", "png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[chosen]
    else:
        try:
            fmt = format_of(out)
        except FusionmatError as exc:
            raise click.BadParameter(str(exc), param_hint="-o") from None
    needs_alpha = kind == "cutout" or (kind == "composite" and plan.translucent)
    if fmt == "JPEG" and needs_alpha:
        raise click.BadParameter(f"{out}: JPEG cannot hold the {kind}'s transparency; use .png or .webp "
                                 "(or --bg COLOUR for a composite)", param_hint="-o")
    return fmt


def _write_one_file(image: str, out: str, kind: str, plan, fmt: str, alpha_for) -> None:
    """Read IMAGE (or standard input), matte it and write just ``kind`` to ``out`` (or standard output)."""
    from fusionmat.outputs.plan import render
    from fusionmat.io.read import read_image
    import numpy as np

    from fusionmat.io.write import encode, refuse_inputs, save_bytes

    if image == STDIO:
        source = io.BytesIO(click.get_binary_stream("stdin").read())
        source.name = "standard input"
        name = Path("stdin")
    else:
        source = name = Path(image)
    try:
        if out != STDIO and image != STDIO:
            refuse_inputs([Path(out)], {Path(image).resolve()})
        rgb = read_image(source, dtype=np.uint8)
        picture = render(rgb, alpha_for(name, rgb), kind, plan)
        buffer = io.BytesIO()  # encoded first: a pipe cannot be seeked, and nothing half-made is written
        encode(picture, fmt, buffer, quality=plan.quality, name="standard output" if out == STDIO else out)
        if out == STDIO:
            stream = click.get_binary_stream("stdout")
            stream.write(buffer.getvalue())
            stream.flush()
            return
        save_bytes(out, buffer.getbuffer())
    except FusionmatError as exc:
        raise click.ClickException(str(exc) if str(image) in str(exc) or image == STDIO else f"{image}: {exc}") from None
    console().info(f"{image} -> {out if out != STDIO else 'standard output'} ({kind})")
