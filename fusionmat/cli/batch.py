"""``fusionmat batch``: mattes (and composites) for every image in a folder.

Options, progress bar, messages and exit status only: the run is :mod:`fusionmat.run.batch`.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from fusionmat.cli.common import (
    Progress,
    background_options,
    console,
    echo_error,
    echo_warning,
    engine_options,
    mask_options,
    output_options,
    output_plan,
    preprocess_options,
    session_or_exit,
)
from fusionmat.errors import FusionmatError
from fusionmat.limits import MAX_WORKERS


@click.command()
@click.argument("folder", callback=lambda ctx, param, value: location(value, param, must_exist=True))
@click.option("-o", "--out", "out_dir", default=None, callback=lambda ctx, param, value: location(value, param),
              help="Output folder or URL; the input tree is mirrored under it "
                   "[default: FOLDER_matting next to FOLDER].")
@click.option("-r", "--recursive", is_flag=True, help="Also process sub-folders.")
@click.option("--cutout", is_flag=True, help="Also write <stem>_cutout.png (RGBA, foreground colours estimated).")
@click.option("--only", default=None, metavar="KINDS",
              help="Write only these outputs, comma-separated: matte, preview, cutout, composite "
                   "(e.g. --only cutout; composite needs --bg).")
@background_options
@click.option("--overwrite", is_flag=True, help="Redo images whose outputs are up to date.")
@click.option("--watch", is_flag=True,
              help="After the first pass, matte photos that land in FOLDER as they arrive (once complete); "
                   "Ctrl-C ends it with the summary.")
@click.option("--json", "json_report", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
              help="Write a JSON report (done, skipped, failed with reasons, images/s) to this file; - for stdout.")
@click.option("--workers", type=click.IntRange(1, MAX_WORKERS), default=2, show_default=True,
              help="Threads that decode and encode images while the engine works.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: threads on this machine; ray: Ray Data actors (pip install 'fusionmat[ray]').")
@click.option("--address", default=None,
              help="ray: the cluster to join (e.g. ray://head:10001) [default: a local Ray].")
@click.option("--concurrency", type=click.IntRange(min=1, max=100000), default=1, show_default=True,
              help="ray: number of actors, each with its own engine.")
@click.option("--cpus-per-actor", type=click.FloatRange(min=0.1, max=1024), default=1.0, show_default=True,
              help="ray: CPUs reserved by each actor (and its engine's threads).")
@output_options
@engine_options
@preprocess_options
@mask_options
def batch(folder, out_dir, recursive, cutout, only, background, fit, composite_format, quality, overwrite, watch,
          json_report,
          workers, executor, address, concurrency, cpus_per_actor, engine, engine_opts, refine, threads, rotate,
          crop, aspect, steps_dir, mask):
    """Write mattes and previews for every image in FOLDER.

    Images are found by content (a photo without a suffix is taken; a corrupt
    photo.jpg is reported). Outputs mirror FOLDER's tree under --out; a re-run
    skips an image whose outputs were made from the same file with the same
    settings (each matte records both), so an interrupted run (Ctrl-C) resumes
    where it stopped, and a changed photo or option redoes what it changes. A bad file gets one line naming it and
    the reason, the run goes on, and the exit status is 1 if anything failed.

    \b
    Examples:
      fusionmat batch shoot/                      # -> shoot_matting/
      fusionmat batch shoot/ -r --out mattes/ --crop auto --json report.json
      fusionmat batch shoot/ --bg '#ffffff' --cutout --workers 4
      fusionmat batch shoot/ --only cutout               # just the cut-outs (rembg's folder mode)
      fusionmat batch booth/ --watch --only cutout       # a hot folder: each photo as it lands
      fusionmat batch s3://bucket/shoot --out s3://bucket/mattes --executor ray --concurrency 8
    """
    from fusionmat.io.folder import find_images
    from fusionmat.run.batch import BatchConfig, Report, default_out, run_folder, same_place

    if watch and executor != "local":
        raise click.BadParameter("watches with the local executor only", param_hint="--watch")
    if watch:
        from fusionmat.io.storage import is_remote

        if is_remote(folder):
            raise click.BadParameter("watches a local folder only", param_hint="--watch")
    out_root = out_dir if out_dir is not None else default_out(folder)
    if same_place(out_root, folder):
        raise click.BadParameter("the output folder must not be the input folder", param_hint="--out")
    plan = output_plan(cutout=cutout, background=background, fit=fit, composite_format=composite_format,
                       quality=quality, only=only, mask=mask)
    spec, session = session_or_exit(engine, threads, refine, plan, rotate=rotate, crop=crop, aspect=aspect,
                                    steps_dir=steps_dir, engine_opts=engine_opts)
    config = BatchConfig(recursive=recursive, overwrite=overwrite, executor=executor, workers=workers,
                         address=address, concurrency=concurrency, cpus_per_actor=cpus_per_actor)
    report = Report()
    images, report.ignored = find_images(folder, recursive=recursive, exclude=out_root)
    if json_report is not None and str(json_report) != "-":
        from fusionmat.run.planning import Inputs

        try:
            Inputs(images).refuse([json_report])  # before any work, not after it
        except FusionmatError as exc:
            raise click.BadParameter(str(exc), param_hint="--json") from None
    out = console()
    out.info(f"{len(images)} image(s) in {folder} -> {out_root}")
    held = outside_images(folder, out_root, recursive)
    if held:
        echo_warning(f"{held} image(s) under {out_root} are not processed: it is the output folder")
    progress = Progress(each=False, min_items=1)

    def planned(count: int) -> None:
        if report.stale_temps_removed:
            out.info(f"removed {report.stale_temps_removed} temp file(s) left by an interrupted run")
        progress.start(count)

    def show(outcome) -> None:
        if outcome.status != "skipped":
            progress(outcome)

    try:
        run_folder(images, folder, out_root, spec, session, config, report=report, on_outcome=show,
                   on_planned=planned)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        progress.close()
    if watch and not report.interrupted:
        from fusionmat.run.watch import watch_folder

        each = Progress(each=True)
        try:
            watch_folder(folder, out_root, spec, session, config, report=report, on_outcome=each,
                         on_ready=lambda: out.info(f"watching {folder} for new photos (Ctrl-C stops) ..."))
        except KeyboardInterrupt:
            pass  # the usual way to end a watch: the summary follows
        except FusionmatError as exc:
            raise click.ClickException(str(exc)) from None
        report.end = time.perf_counter()
    finish(report, json_report, images)


def outside_images(folder, out_root, recursive: bool) -> int:
    """How many images a recursive run leaves out because they are under the output folder
    inside FOLDER (fusionmat's own outputs there are not counted)."""
    from fusionmat.io.folder import find_images
    from fusionmat.io.storage import is_remote

    if not recursive or is_remote(out_root) or not Path(out_root).is_dir():
        return 0
    try:
        Path(out_root).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return 0
    held, _ = find_images(Path(out_root), recursive=True)
    return sum(1 for p in held if p.stem.rpartition("_")[2] not in ("matting", "concat", "cutout", "composite"))


def location(value: str | None, param, *, must_exist: bool = False):
    """A folder argument: a local path (which must be a folder when ``must_exist``) or an fsspec URL."""
    from fusionmat.io.storage import as_path, is_remote

    if value is None:
        return None
    try:
        path = as_path(value)
    except FusionmatError as exc:
        raise click.BadParameter(str(exc), param=param) from None
    if is_remote(path):
        return path
    if must_exist and not path.is_dir():
        raise click.BadParameter(f"{value}: {'not a folder' if path.exists() else 'no such folder'}", param=param)
    if path.exists() and not path.is_dir():
        raise click.BadParameter(f"{value}: is a file, not a folder", param=param)
    return path


def finish(report, json_report: Path | None, images: list[Path]) -> None:
    """The summary, the ``--json`` report and the exit status (130 interrupted, 1 failures)."""
    from fusionmat.io.write import atomic_write
    from fusionmat.run.planning import Inputs

    console().info(report.summary())
    if not console().quiet:  # a recap: each was printed as it happened
        for failure in report.failed:
            click.echo(f"  failed: {failure['file']}: {failure['error']}", err=True)
    if json_report is not None:
        text = json.dumps(report.as_dict(), indent=2)
        if str(json_report) == "-":
            click.echo(text)
        else:
            try:
                Inputs(images).refuse([json_report])
                atomic_write(json_report, lambda tmp: Path(tmp).write_text(text))
            except FusionmatError as exc:
                echo_error(str(exc))
                sys.exit(130 if report.interrupted else 1)
    if report.interrupted:
        sys.exit(130)
    if report.failed:
        sys.exit(1)
