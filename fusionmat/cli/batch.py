"""``fusionmat batch``: mattes (and composites) for every image in a folder.

Options, progress bar, messages and exit status only: the run is :mod:`fusionmat.runner`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from fusionmat.cli.common import (background_or_exit, build_engine, build_preprocessor, echo_error, engine_options,
                                  preprocess_options, refine_method_or_exit, steps_saver)
from fusionmat.compose import FITS
from fusionmat.errors import FusionmatError


@click.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder; the input tree is mirrored under it [default: FOLDER_matting next to FOLDER].")
@click.option("-r", "--recursive", is_flag=True, help="Also process sub-folders.")
@click.option("--cutout", is_flag=True, help="Also write <stem>_cutout.png (RGBA, foreground colours estimated).")
@click.option("--bg", "background", default=None, metavar="FILE|#RRGGBB|blur[:SIGMA]",
              help="Also write <stem>_composite.jpg on this background (see `fusionmat compose`).")
@click.option("--fit", type=click.Choice(FITS), default="cover", show_default=True,
              help="How a --bg picture is fitted to each photo.")
@click.option("--overwrite", is_flag=True, help="Redo images whose outputs are up to date.")
@click.option("--json", "json_report", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
              help="Write a JSON report (done, skipped, failed with reasons, images/s) to this file; - for stdout.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Threads that decode and encode images while the engine works.")
@engine_options
@preprocess_options
def batch(folder, out_dir, recursive, cutout, background, fit, overwrite, json_report, workers,
          engine, weights_file, size, partial, refine, threads, rotate, crop, aspect, steps_dir):
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
    """
    from tqdm import tqdm

    from fusionmat.folder import find_images
    from fusionmat.outputs import OutputPlan
    from fusionmat.runner import Report, batch_key, default_out, plan_jobs, run_local

    out_root = out_dir if out_dir is not None else default_out(folder)
    if out_root.resolve() == folder.resolve():
        raise click.BadParameter("the output folder must not be the input folder", param_hint="--out")
    plan = OutputPlan(cutout=cutout, background=background_or_exit(background, fit))
    loaded = build_engine(engine, threads, weights=weights_file, size=size, partial=partial)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads)
    method = refine_method_or_exit(loaded, refine)
    report = Report()
    images, report.ignored = find_images(folder, recursive=recursive, exclude=out_root)
    click.echo(f"{len(images)} image(s) in {folder} -> {out_root}", err=True)
    key = batch_key(loaded, method, preprocessor, plan)
    jobs = plan_jobs(images, folder, out_root, plan, key, overwrite=overwrite, report=report)
    for failure in report.failed:
        echo_error(failure["error"])
    if report.stale_temps_removed:
        click.echo(f"removed {report.stale_temps_removed} temp file(s) left by an interrupted run", err=True)

    bar = tqdm(total=len(jobs), unit="img", file=sys.stderr, dynamic_ncols=True)

    def show(event) -> None:
        if event.kind == "warning":
            bar.write(f"warning: {event.message}", file=sys.stderr)
            return
        if event.kind == "failed":
            bar.write(f"error: {event.message}", file=sys.stderr)
        bar.update(1)

    try:
        run_local(jobs, loaded, refine=method, preprocessor=preprocessor, plan=plan, key=key, report=report,
                  workers=workers, on_event=show, on_steps=lambda path: steps_saver(steps_dir, path.stem))
    finally:
        bar.close()
    finish(report, json_report, images)


def finish(report, json_report: Path | None, images: list[Path]) -> None:
    """The summary, the ``--json`` report and the exit status (130 interrupted, 1 failures)."""
    from fusionmat.write import atomic_write, refuse_inputs

    click.echo(report.summary(), err=True)
    for failure in report.failed:
        click.echo(f"  failed: {failure['error']}", err=True)
    if json_report is not None:
        text = json.dumps(report.as_dict(), indent=2)
        if str(json_report) == "-":
            click.echo(text)
        else:
            try:
                refuse_inputs([json_report], {p.resolve() for p in images})
                atomic_write(json_report, lambda tmp: Path(tmp).write_text(text))
            except FusionmatError as exc:
                echo_error(str(exc))
                sys.exit(130 if report.interrupted else 1)
    if report.interrupted:
        sys.exit(130)
    if report.failed:
        sys.exit(1)
