"""The batch runner: every image of a folder through the pipeline, its outputs mirrored under an
output folder, resumable, with a report of what was done, skipped and failed (and why).

Library code with no Click: ``fusionmat batch`` parses options and shows progress around
:func:`run_batch`; :mod:`fusionmat.run.ray_executor` runs the same jobs on Ray Data.

Local execution overlaps the stages: reader threads decode the next photos, the calling thread
runs the detectors and the network (:func:`fusionmat.matting.pipeline.run_engine`), and worker threads
upsample, refine and encode (:func:`finish_and_write`), which release the GIL.
"""
from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusionmat.engines.base import Engine
from fusionmat.errors import FusionmatError, naming
from fusionmat.outputs.plan import OutputPlan, output_paths, write_outputs
from fusionmat.matting.pipeline import EnginePass


def default_out(folder: Path) -> Path:
    """``<folder>_matting`` next to the input folder: outputs never mix with inputs."""
    from fusionmat.io.storage import as_path, is_remote

    folder = as_path(folder)
    if not is_remote(folder):
        folder = folder.resolve()
    return folder.parent / f"{folder.name}_matting"


def same_place(a, b) -> bool:
    """True when two folders (paths or URLs) are the same one."""
    from fusionmat.io.storage import is_remote

    if is_remote(a) or is_remote(b):
        return str(a).rstrip("/") == str(b).rstrip("/")
    return Path(a).resolve() == Path(b).resolve()


EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Job:
    """One image to do and the files to write for it, by kind ('matting', 'concat', ...)."""

    image: Path
    outputs: dict[str, Path]


@dataclass(frozen=True)
class Event:
    """Something to tell the user as it happens: kind 'done', 'failed' or 'warning'."""

    kind: str
    image: Path
    message: str = ""


@dataclass
class Report:
    """What happened to each file: the summary line, ``--json`` and the exit status come from it."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    ignored: int = 0
    stale_temps_removed: int = 0
    interrupted: bool = False
    start: float = field(default_factory=time.perf_counter)
    end: float | None = None
    first_result: float | None = None

    def fail(self, path: Path, reason: str) -> None:
        self.failed.append({"file": str(path), "error": reason})
        self._result()

    def finish(self, path) -> None:
        """Record ``path`` as done."""
        self.done.append(str(path))
        self._result()

    def _result(self) -> None:
        if self.first_result is None:
            self.first_result = time.perf_counter()

    @property
    def steady_seconds_per_image(self) -> float | None:
        """Seconds per image after the first result: the per-image cost without start-up
        (model loading in Ray's actors); None with fewer than two results."""
        results = len(self.done) + len(self.failed)
        if self.first_result is None or results < 2:
            return None
        return ((self.end or time.perf_counter()) - self.first_result) / (results - 1)

    @property
    def seconds(self) -> float:
        return (self.end if self.end is not None else time.perf_counter()) - self.start

    @property
    def ok(self) -> bool:
        """True when nothing failed and the run was not interrupted."""
        return not self.failed and not self.interrupted

    def as_dict(self) -> dict:
        rate = len(self.done) / self.seconds if self.seconds > 0 else 0.0
        return {"done": self.done, "skipped": self.skipped, "failed": self.failed,
                "ignored_non_images": self.ignored, "stale_temps_removed": self.stale_temps_removed,
                "interrupted": self.interrupted, "seconds": round(self.seconds, 3),
                "images_per_second": round(rate, 3),
                "steady_seconds_per_image": (round(self.steady_seconds_per_image, 4)
                                             if self.steady_seconds_per_image is not None else None)}

    def summary(self) -> str:
        d = self.as_dict()
        head = "interrupted: " if self.interrupted else ""
        return (f"{head}{len(self.done)} done, {len(self.skipped)} skipped (already done), "
                f"{len(self.failed)} failed in {d['seconds']:.1f} s ({d['images_per_second']:.2f} images/s)")


def batch_key(engine: Engine | None, refine: str, preprocessor, plan: OutputPlan, *, matte=None) -> str:
    """The settings key stamped into each image's outputs (see :mod:`fusionmat.outputs.resume`); with a
    ``matte`` file (``compose --matte``) that file's identity stands for the engine's settings."""
    from fusionmat.outputs.resume import settings_key

    background = plan.background
    return settings_key({
        "engine": engine.settings() if engine is not None else {"matte": matte},
        "refine": refine,
        "preprocess": dataclasses.asdict(preprocessor.settings) if preprocessor is not None else None,
        "cutout": plan.cutout,
        "background": None if background is None else {"spec": dataclasses.asdict(background.spec),
                                                       "fit": background.fit},
        "composite": plan.composite_suffix,
        "quality": plan.quality,
    })


def plan_jobs(images: list[Path], src: Path, out_root: Path, plan: OutputPlan, key: str, *,
              overwrite: bool, report: Report) -> list[Job]:
    """The jobs still to do: each image's outputs mirror its place under ``src``; images whose
    outputs are up to date are added to ``report.skipped``, and images whose outputs would collide
    with another's (same stem) to ``report.failed``. Stale temp files in the output folders go."""
    from fusionmat.outputs.resume import is_up_to_date
    from fusionmat.io.storage import child, is_remote, relative_folder
    from fusionmat.io.write import clean_stale_temps

    jobs: list[Job] = []
    claimed: dict = {}
    folders: set = set()
    for path in images:
        folder = child(out_root, relative_folder(path, src))
        paths = output_paths(path, folder, plan)
        clash = next((claimed[p] for p in paths.values() if p in claimed), None)
        if clash is not None:
            report.fail(path, f"{path}: its outputs would overwrite those of {clash} (same name stem)")
            continue
        claimed.update({p: path for p in paths.values()})
        if folder not in folders:
            folders.add(folder)
            if not is_remote(folder):  # an object store gets whole objects only: no temp files there
                report.stale_temps_removed += len(clean_stale_temps(folder))
        if not overwrite and is_up_to_date(path, paths, key):
            report.skipped.append(str(path))
        else:
            jobs.append(Job(path, paths))
    return jobs


def finish_and_write(rgb: np.ndarray, engine_pass: EnginePass | None, refine: str, job: Job, plan: OutputPlan,
                     stamp: str | None) -> None:
    """Upsampling, refinement and the outputs of one image (thread-safe; the heavy parts
    release the GIL). ``engine_pass`` None means no person was found: the matte is empty."""
    from fusionmat.matting.pipeline import full_size
    from fusionmat.matting.refine import REFINERS

    if engine_pass is None:
        alpha = np.zeros(rgb.shape[:2], np.float32)
    else:
        alpha = REFINERS[refine](rgb, full_size(engine_pass))
    write_outputs(rgb, alpha, job.outputs, plan, stamp=stamp)


def engine_pass_of(rgb: np.ndarray, engine: Engine, preprocessor, on_steps=None) -> tuple[EnginePass | None, str]:
    """Preprocessing and the engine for one photo: (the pass, or None when no person was found;
    a warning to show, or '')."""
    from fusionmat.matting.pipeline import run_engine

    engine_pass = run_engine(rgb, engine, preprocessor=preprocessor, on_steps=on_steps)
    if engine_pass.found:
        return engine_pass, ""
    return None, "no person found; the matte is empty"


def stamp_for(job: Job, key: str) -> str | None:
    """The stamp for ``job``'s matte, taken before the photo is read (None if it vanished)."""
    from fusionmat.outputs.resume import stamp

    try:
        return stamp(job.image, key)
    except OSError:
        return None


def run_local(jobs: list[Job], engine: Engine, *, refine: str, preprocessor, plan: OutputPlan, key: str,
              report: Report, workers: int = 2, on_event: Callable[[Event], None] | None = None,
              on_steps: Callable[[Path], Callable | None] | None = None) -> Report:
    """Do ``jobs`` with local threads (see the module's docstring); results go into ``report``.

    A FusionmatError fails that image only. Ctrl-C (KeyboardInterrupt) stops reading new images,
    lets the outputs being written finish (each is written atomically, so none is partial) and
    marks the report interrupted.
    """
    from fusionmat.io.read import read_image
    from fusionmat.matting.refine import preload

    emit = on_event or (lambda event: None)
    if jobs:
        preload(refine)
    pool = ThreadPoolExecutor(max_workers=workers)
    writes: deque[tuple[Job, Future]] = deque()

    def failed(job: Job, exc: Exception) -> None:
        report.fail(job.image, naming(job.image, exc))
        emit(Event("failed", job.image, naming(job.image, exc)))

    def settle(wait: bool) -> None:
        while writes and (wait or writes[0][1].done()):
            job, future = writes.popleft()
            try:
                future.result()
            except FusionmatError as exc:
                failed(job, exc)
            else:
                report.finish(job.image)
                emit(Event("done", job.image))

    def read(job: Job) -> tuple[str | None, Future]:
        return stamp_for(job, key), pool.submit(read_image, job.image, dtype=np.uint8)

    reads = deque((job, *read(job)) for job in jobs[:workers])
    upcoming = iter(jobs[workers:])
    try:
        while reads:
            job, stamp, future = reads.popleft()
            nxt = next(upcoming, None)
            if nxt is not None:
                reads.append((nxt, *read(nxt)))
            try:
                rgb = future.result()
                engine_pass, warning = engine_pass_of(rgb, engine, preprocessor,
                                                      on_steps(job.image) if on_steps else None)
            except FusionmatError as exc:
                failed(job, exc)
                continue
            if warning:
                emit(Event("warning", job.image, f"{job.image}: {warning}"))
            # upsampling, refinement and encoding run in the pool while this thread runs the next image's models
            writes.append((job, pool.submit(finish_and_write, rgb, engine_pass, refine, job, plan, stamp)))
            settle(wait=len(writes) >= workers)
        settle(wait=True)
    except KeyboardInterrupt:
        report.interrupted = True
        for _, _, future in reads:
            future.cancel()
        settle(wait=True)  # outputs being written are finished (or, atomically, not there at all)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        report.end = time.perf_counter()
    return report


def run_batch(src: str | Path, out: str | Path | None = None, *, engine: Engine | str | None = None,
              refine: str = "auto", rotate="auto", crop="auto", aspect="none", recursive: bool = False,
              cutout: bool = False, background: str | None = None, fit: str = "cover",
              composite_format: str = "auto", quality: int = 95, overwrite: bool = False,
              workers: int = 2, threads: int | None = None, engine_options: dict | None = None,
              executor: str = "local", address: str | None = None, concurrency: int = 1,
              cpus_per_actor: float = 1.0, on_event: Callable[[Event], None] | None = None) -> Report:
    """Mattes and previews (and cut-outs, composites) for every image in folder ``src``.

    Parameters
    ----------
    src : folder of photos (found by content; see :func:`fusionmat.io.folder.find_images`), a
        path or an fsspec URL (``s3://bucket/shoot``; needs ``fusionmat[ray]``).
    out : output folder, mirroring ``src``'s tree (default ``<src>_matting`` beside it).
    engine : an engine name (default: the default engine) or, for the local executor, a loaded engine.
    engine_options : keyword options of the engine (``{"long_side": 640}``).
    refine, rotate, crop, aspect : as :func:`fusionmat.matte`.
    recursive : also sub-folders.
    cutout : also ``<stem>_cutout.png``.
    background, fit : also ``<stem>_composite.*`` on this background (a colour such as '#RRGGBB',
        'white', '#RRGGBBAA' or 'transparent'; 'blur[:S]'; a picture), fitted by ``fit``.
    composite_format, quality : the composite's type ('auto': jpg, or png for a translucent
        background; 'jpg', 'png', 'webp') and JPEG / WebP quality.
    overwrite : redo images whose outputs are up to date (otherwise they are skipped).
    workers : threads that decode and encode while the engine runs (local executor).
    executor : 'local' (threads) or 'ray' (Ray Data: :mod:`fusionmat.run.ray_executor`), with the
        cluster's ``address`` (default: a local Ray), ``concurrency`` actors of ``cpus_per_actor`` CPUs.
    on_event : called with each :class:`Event` (done, failed, warning) as it happens.

    Returns
    -------
    A :class:`Report`. Bad files are failed entries, never exceptions; a bad option raises
    ValueError, an unusable engine or background a FusionmatError.
    """
    from fusionmat.engines import DEFAULT_ENGINE, load_engine
    from fusionmat.io.folder import find_images
    from fusionmat.outputs.plan import load_background
    from fusionmat.matting.pipeline import refine_method
    from fusionmat.preprocess.chain import build_preprocessor

    from fusionmat.io.storage import as_path

    src = as_path(src)
    if not src.is_dir():
        raise FusionmatError(f"{src}: not a folder")
    out_root = as_path(out) if out is not None else default_out(src)
    if same_place(out_root, src):
        raise ValueError("the output folder must not be the input folder")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    plan = OutputPlan(cutout=cutout, background=load_background(background, fit) if background else None,
                      composite_format=composite_format, quality=quality)
    preprocessor = build_preprocessor(rotate, crop, aspect, threads=threads)
    options = dict(engine_options or {})
    if isinstance(engine, Engine):
        if executor != "local":
            raise ValueError("a loaded engine runs only locally; give the engine's name for executor 'ray'")
        loaded = engine
    else:
        loaded = load_engine(engine or DEFAULT_ENGINE, threads=threads, **options)
    method = refine_method(loaded, refine)
    report = Report()
    images, report.ignored = find_images(src, recursive=recursive, exclude=out_root)
    key = batch_key(loaded, method, preprocessor, plan)
    jobs = plan_jobs(images, src, out_root, plan, key, overwrite=overwrite, report=report)
    report.start = time.perf_counter()
    return execute(jobs, loaded, executor=executor, engine_options=options, refine=method, preprocessor=preprocessor,
                   plan=plan, key=key, report=report, workers=workers, concurrency=concurrency,
                   cpus_per_actor=cpus_per_actor, address=address, on_event=on_event)


def execute(jobs: list[Job], engine: Engine, *, executor: str, engine_options: dict, refine: str, preprocessor,
            plan: OutputPlan, key: str, report: Report, workers: int = 2, concurrency: int = 1,
            cpus_per_actor: float = 1.0, address: str | None = None,
            on_event: Callable[[Event], None] | None = None,
            on_steps: Callable[[Path], Callable | None] | None = None) -> Report:
    """Do planned ``jobs`` on ``executor``: local threads with the loaded ``engine``, or Ray actors
    that each load the engine of that name with ``engine_options`` (``on_steps`` is local only)."""
    if executor == "ray":
        from fusionmat.run.ray_executor import run_ray

        options = {k: v for k, v in engine_options.items() if k != "threads"}
        return run_ray(jobs, engine=engine.name, engine_options=options, refine=refine,
                       settings=preprocessor.settings if preprocessor is not None else None, plan=plan, key=key,
                       report=report, concurrency=concurrency, cpus_per_actor=cpus_per_actor, address=address,
                       on_event=on_event)
    return run_local(jobs, engine, refine=refine, preprocessor=preprocessor, plan=plan, key=key, report=report,
                     workers=workers, on_event=on_event, on_steps=on_steps)


__all__ = ["Event", "Job", "Report", "default_out", "execute", "plan_jobs", "run_batch", "run_local"]
