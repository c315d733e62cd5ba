"""``fusionmat predict``: mattes, previews, cut-outs and composites for the given images."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import click

from fusionmat.cli.common import (
    background_options,
    console,
    describe_steps,
    echo_warning,
    engine_options,
    mask_options,
    output_options,
    output_plan,
    preprocess_options,
    run_planned,
    session_or_exit,
)
from fusionmat.errors import FusionmatError
from fusionmat.io.write import is_stream
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


@click.command()
@click.argument("images", nargs=-1, required=True)
@click.option("-o", "--out", "out", default=None, metavar="FOLDER|FILE|-",
              help="Where outputs go: a folder (default: next to each input), or one file for a single "
                   "IMAGE (x.png, x.webp, x.jpg, x.tif; - for standard output) holding only --only.")
@click.option("--only", type=click.Choice(ONE_FILE_KINDS), default=None,
              help="With -o FILE: what the file holds [default: composite with --bg, else cutout].")
@click.option("--cutout", is_flag=True, help="Also write <stem>_cutout.png (RGBA, foreground colours estimated).")
@background_options
@click.option("--overwrite", is_flag=True, help="Redo images whose outputs are up to date (same photo, same options).")
@output_options
@engine_options
@preprocess_options
@mask_options
def predict(images, out, only, cutout, background, fit, composite_format, quality, overwrite, engine, engine_opts,
            refine, threads, rotate, crop, aspect, steps_dir, mask):
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
      fusionmat predict photo.jpg --engine latefusion -E weights=latefusion.h5
    """
    single = one_file_target(out)
    if STDIO in images and not single:
        raise click.UsageError("IMAGE - (standard input) needs -o FILE or -o -")
    if single and len(images) != 1:
        raise click.UsageError(f"-o {out} writes one file: give exactly one IMAGE (or -o FOLDER)")
    if only is not None and not single:
        raise click.UsageError("--only goes with -o FILE (one output file)")
    if out is not None and not single:
        refuse_unknown_suffix(out)
    kind = only or ("composite" if background else "cutout")
    if single and kind == "composite" and not background:
        raise click.UsageError("--only composite needs --bg")
    plan = output_plan(cutout=cutout, background=background, fit=fit, composite_format=composite_format,
                       quality=quality, mask=mask)
    if single:
        target_format = _one_file_format(out, kind, plan)
    for path in images:
        if path != STDIO and Path(path).is_dir():
            raise click.BadParameter(f"{path}: is a folder; for every image in it use: fusionmat batch {path}",
                                     param_hint="IMAGES")
    _, session = session_or_exit(engine, threads, refine, plan, rotate=rotate, crop=crop, aspect=aspect,
                                 steps_dir=steps_dir, engine_opts=engine_opts)
    if single:
        _write_one_file(images[0], out, kind, session, target_format)
        return
    from fusionmat.run.batch import session_key
    from fusionmat.run.planning import plan_jobs, run_inputs

    paths = list(dict.fromkeys(Path(p) for p in images))  # a photo given twice is done once
    out_dir = Path(out) if out is not None else None
    session.inputs = run_inputs(paths, plan)
    planned = plan_jobs(paths, (lambda path: out_dir) if out_dir is not None else (lambda path: path.parent), plan,
                        key=session_key(session), inputs=session.inputs, overwrite=overwrite)
    run_planned(planned, session, shown="matting")


def write_stdout(data: bytes) -> None:
    """All of ``data`` to standard output, or a one-line error when it is closed or its reader
    went away before the end (a pipe into `head`)."""
    stream = getattr(sys.stdout, "buffer", None)
    if stream is None:
        raise click.ClickException("standard output is closed; give -o FILE")
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:  # BrokenPipeError among them
        sys.stdout = None  # nothing more is written there, not even at exit
        raise click.ClickException(f"standard output: {exc.strerror or exc}; the output is incomplete") from None


def refuse_unknown_suffix(out: str) -> None:
    """A usage error for ``-o NAME.ext`` whose suffix names an image format fusionmat cannot write
    (x.gif): the user meant a file, not a folder called x.gif."""
    from fusionmat.io.folder import IMAGE_SUFFIXES
    from fusionmat.io.write import FORMATS

    suffix = Path(out).suffix.lower()
    if suffix in IMAGE_SUFFIXES and suffix not in FORMATS and not Path(out).is_dir():
        raise click.BadParameter(f"{out}: fusionmat cannot write {suffix} files; use .png, .jpg, .webp or .tif "
                                 "(or a folder name without a suffix)", param_hint="-o")


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


def _write_one_file(image: str, out: str, kind: str, session, fmt: str) -> None:
    """Matte IMAGE (or standard input, read up to the stream limit) and write just ``kind`` to
    ``out`` (or standard output), encoded in memory first: a pipe cannot seek, and nothing
    half-made is written."""
    from fusionmat.io.write import encode, save_bytes
    from fusionmat.limits import read_bounded
    from fusionmat.run.batch import run_local
    from fusionmat.run.planning import run_inputs
    from fusionmat.run.process import Job, describe

    if image == STDIO:
        try:
            job = Job("standard input", data=read_bounded(sys.stdin.buffer, "standard input"), keep=(kind,))
        except FusionmatError as exc:
            raise click.ClickException(str(exc)) from None
    else:
        job = Job(Path(image), keep=(kind,))
    target = "standard output" if out == STDIO else out
    try:
        if out != STDIO:
            run_inputs([] if image == STDIO else [Path(image)], session.plan).refuse([Path(out)])
        outcomes: list = []
        if run_local([job], session, workers=1, on_outcome=outcomes.append):
            raise KeyboardInterrupt  # in a thread, so numerical code is never interrupted half-way
        outcome = outcomes[0]
        if outcome.error:
            raise click.ClickException(outcome.error)
        if outcome.warning:
            echo_warning(f"{job.image}: {outcome.warning}")
        console().detail(describe_steps(outcome))
        buffer = io.BytesIO()
        encode(outcome.rendered[kind], fmt, buffer, quality=session.plan.quality, name=target)
        if out == STDIO:
            write_stdout(buffer.getvalue())
        else:
            save_bytes(out, buffer.getbuffer())
    except FusionmatError as exc:
        raise click.ClickException(describe(job.image, exc)) from None
    console().info(f"{job.image} -> {target} ({kind})")
