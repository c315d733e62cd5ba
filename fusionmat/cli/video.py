"""``fusionmat video``: mattes (and composites, cut-outs with alpha) of a video file."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import build_engine, console, engine_options, mask_options, output_options


@click.command()
@click.argument("clip", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the outputs (default: next to CLIP).")
@click.option("--bg", "background", default=None, metavar="COLOUR|FILE|VIDEO|blur[:SIGMA]|transparent",
              help="Also write <stem>_composite.mp4 on this background (audio copied): a picture, or a video "
                   "(.mp4, .mov, .webm, ...; looped or cut to the clip's length); transparent needs --alpha.")
@click.option("--fit", type=click.Choice(["cover", "contain", "stretch"]), default="cover", show_default=True,
              help="How a background picture is fitted.")
@click.option("--alpha", type=click.Choice(["webm", "mov", "webp", "gif", "png"]), default=None,
              help="Also write the cut-out with transparency: webm (VP9 with alpha), mov (ProRes 4444 with alpha, "
                   "for editors), webp or gif (animated; gif keeps every frame in memory), png (an RGBA sequence).")
@click.option("--start", type=click.FloatRange(min=0, max=1e7), default=None, help="Seconds: first frame to matte.")
@click.option("--end", type=click.FloatRange(min=0, max=1e7), default=None, help="Seconds: matte up to here.")
@click.option("--rotate", default="auto", show_default=True, metavar="auto|none|DEG",
              help="Turn the subject upright (decided once per shot).")
@click.option("--temporal/--no-temporal", default=None,
              help="The temporal filter that removes flicker where the picture is still.  [default: on, but off "
                   "for rvm, whose recurrent state keeps it steady]")
@output_options
@engine_options
@mask_options
def video(clip, out_dir, background, fit, alpha, start, end, rotate, temporal, engine, engine_opts,
          refine, threads, mask):
    """Write <stem>_matting.mp4, the matte of every frame of CLIP as grey video.

    Same frame rate and frame count; preprocessing is decided once per shot and
    a temporal filter removes flicker where the picture is still. Needs PyAV
    (pip install 'fusionmat[video]').

    \b
    Examples:
      fusionmat video talk.mp4                       # talk_matting.mp4
      fusionmat video talk.mp4 --bg beach.jpg        # + talk_composite.mp4, with the audio
      fusionmat video talk.mp4 --alpha webm          # + talk_cutout.webm (VP9 with alpha)
      fusionmat video talk.mp4 --alpha mov           # + talk_cutout.mov (ProRes 4444 with alpha)
      fusionmat video talk.mp4 --bg waves.mp4        # + talk_composite.mp4 on a moving background
      fusionmat video talk.mp4 --start 10 --end 20 --alpha png
    """
    from fusionmat.errors import FusionmatError
    from fusionmat.preprocess.chain import parse_rotate
    from fusionmat.run.video import matte_video

    try:
        parse_rotate(rotate)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--rotate") from None
    if mask is not None and mask.trim is not None:
        raise click.BadParameter("is for photos: a video keeps one frame size", param_hint="--trim")
    if refine != "auto":
        raise click.BadParameter("video uses each engine's own refinement", param_hint="--refine")
    if start is not None and end is not None and end <= start:
        raise click.BadParameter(f"--end ({end}) must be after --start ({start})", param_hint="--end")
    loaded = build_engine(engine, threads, engine_opts)
    out = console()
    bar = out.bar(0)
    try:
        def progress(done: int, total: int | None) -> None:
            if total and bar.total != total:
                bar.total = total
                bar.refresh()
            bar.update(done - bar.n)

        report = matte_video(clip, out_dir, engine=loaded, background=background, fit=fit, alpha=alpha, start=start,
                             end=end, rotate=rotate, temporal=temporal, on_frame=progress, mask=mask)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    if report.damaged:
        click.secho(f"warning: {clip}: damaged; {report.damaged}; the outputs hold the {report.frames} frame(s) "
                    "before it", fg="yellow", err=True)
    if report.frames_without_person == report.frames:
        click.secho(f"warning: {clip}: no person found in any frame; the matte is empty", fg="yellow", err=True)
    for path in report.outputs.values():
        if not out.quiet:
            click.echo(f"{clip} -> {path}")
    out.info(f"{report.frames} frame(s), {report.shots} shot(s), {report.fps:.2f} frames/s")
