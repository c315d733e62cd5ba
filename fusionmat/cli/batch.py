"""``fusionmat batch``: mattes (and composites) for every image in a folder."""
from __future__ import annotations

import json
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import click

from fusionmat.cli.common import (background_or_exit, build_engine, build_preprocessor, echo_error, engine_options, naming,
                                  preprocess_options, refine_method_or_exit, steps_saver)
from fusionmat.cli.outputs import OutputPlan, output_paths, write_outputs
from fusionmat.compose import FITS
from fusionmat.errors import FusionmatError


def default_out(folder: Path) -> Path:
    """``<folder>_matting`` next to the input folder: outputs never mix with inputs."""
    folder = folder.resolve()
    return folder.parent / f"{folder.name}_matting"


class Report:
    """What happened to each file, for the summary line and ``--json``."""

    def __init__(self) -> None:
        self.done: list[str] = []
        self.skipped: list[str] = []
        self.failed: list[dict[str, str]] = []
        self.ignored = 0
        self.interrupted = False
        self.start = time.perf_counter()

    def fail(self, path: Path, reason: str) -> None:
        self.failed.append({"file": str(path), "error": reason})

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def as_dict(self) -> dict:
        rate = len(self.done) / self.seconds if self.seconds > 0 else 0.0
        return {"done": self.done, "skipped": self.skipped, "failed": self.failed,
                "ignored_non_images": self.ignored, "interrupted": self.interrupted,
                "seconds": round(self.seconds, 3), "images_per_second": round(rate, 3)}

    def summary(self) -> str:
        d = self.as_dict()
        head = "interrupted: " if self.interrupted else ""
        return (f"{head}{len(self.done)} done, {len(self.skipped)} skipped (already done), "
                f"{len(self.failed)} failed in {d['seconds']:.1f} s ({d['images_per_second']:.2f} images/s)")


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
@click.option("--overwrite", is_flag=True, help="Redo images whose outputs already exist.")
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
    skips images whose outputs are newer than them, so an interrupted run
    (Ctrl-C) resumes where it stopped. A bad file gets one line naming it and
    the reason, the run goes on, and the exit status is 1 if anything failed.

    \b
    Examples:
      fusionmat batch shoot/                      # -> shoot_matting/
      fusionmat batch shoot/ -r --out mattes/ --crop auto --json report.json
      fusionmat batch shoot/ --bg '#ffffff' --cutout --workers 4
    """
    import numpy as np
    from tqdm import tqdm

    from fusionmat.batch import find_images, is_finished
    from fusionmat.read import read_image
    from fusionmat.refine import preload
    from fusionmat.write import atomic_write, refuse_inputs

    out_root = out_dir if out_dir is not None else default_out(folder)
    if out_root.resolve() == folder.resolve():
        raise click.BadParameter("the output folder must not be the input folder", param_hint="--out")
    plan = OutputPlan(cutout=cutout, background=background_or_exit(background, fit))
    images, ignored = find_images(folder, recursive=recursive, exclude=out_root)
    loaded = build_engine(engine, threads, weights=weights_file, size=size, partial=partial)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads)
    report = Report()
    report.ignored = ignored
    click.echo(f"{len(images)} image(s) in {folder} -> {out_root}", err=True)

    todo: list[tuple[Path, dict[str, Path]]] = []
    claimed: dict[Path, Path] = {}
    for path in images:
        paths = output_paths(path, out_root / path.parent.relative_to(folder), plan)
        clash = next((claimed[p] for p in paths.values() if p in claimed), None)
        if clash is not None:
            report.fail(path, f"its outputs would overwrite those of {clash} (same name stem)")
            echo_error(f"{path}: its outputs would overwrite those of {clash} (same name stem)")
            continue
        claimed.update({p: path for p in paths.values()})
        if not overwrite and is_finished(path, paths.values()):
            report.skipped.append(str(path))
        else:
            todo.append((path, paths))

    method = refine_method_or_exit(loaded, refine)
    if todo:
        preload(method)
    report.start = time.perf_counter()
    bar = tqdm(total=len(todo), unit="img", file=sys.stderr, dynamic_ncols=True)
    pool = ThreadPoolExecutor(max_workers=workers)
    writes: deque[tuple[Path, Future]] = deque()

    def settle(wait: bool) -> None:
        while writes and (wait or writes[0][1].done()):
            path, future = writes.popleft()
            try:
                future.result()
                report.done.append(str(path))
            except FusionmatError as exc:
                report.fail(path, naming(path, exc))
                bar.write(f"error: {naming(path, exc)}", file=sys.stderr)
            bar.update(1)

    reads = deque((path, paths, pool.submit(read_image, path, dtype=np.uint8)) for path, paths in todo[:workers])
    upcoming = iter(todo[workers:])
    try:
        while reads:
            path, paths, future = reads.popleft()
            nxt = next(upcoming, None)
            if nxt is not None:
                reads.append((nxt[0], nxt[1], pool.submit(read_image, nxt[0], dtype=np.uint8)))
            try:
                rgb = future.result()
                engine_pass = _engine_pass(rgb, loaded, preprocessor, steps_saver(steps_dir, path.stem))
            except FusionmatError as exc:
                report.fail(path, naming(path, exc))
                bar.write(f"error: {naming(path, exc)}", file=sys.stderr)
                bar.update(1)
                continue
            found = engine_pass.found  # decided once: warned here, not again in the worker
            if not found:
                bar.write(f"warning: {path}: no person found; the matte is empty", file=sys.stderr)
            # upsampling, refinement and encoding run in the pool while this thread runs the next image's models
            writes.append((path, pool.submit(_finish_and_write, rgb, engine_pass if found else None, method,
                                             paths, plan)))
            settle(wait=len(writes) >= workers)
        settle(wait=True)
    except KeyboardInterrupt:
        report.interrupted = True
        for _, _, future in reads:
            future.cancel()
        settle(wait=True)  # outputs being written are finished (or, atomically, not there at all)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()

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


def _engine_pass(rgb, engine, preprocessor, on_steps):
    """Detection, preprocessing and the engine: the part that runs on the main thread."""
    from fusionmat.pipeline import run_engine

    return run_engine(rgb, engine, preprocessor=preprocessor, on_steps=on_steps)


def _finish_and_write(rgb, engine_pass, method, paths, plan) -> None:
    """Upsampling, refinement and the outputs, in a worker thread (OpenCV, pymatting and the
    encoders release the GIL).

    ``engine_pass`` is None when no person was found: the matte is empty.
    """
    import numpy as np

    from fusionmat.pipeline import full_size
    from fusionmat.refine import REFINERS

    if engine_pass is None:
        alpha = np.zeros(rgb.shape[:2], np.float32)
    else:
        alpha = REFINERS[method](rgb, full_size(engine_pass))
    write_outputs(rgb, alpha, paths, plan)
