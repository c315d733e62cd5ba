"""The batch runner: every image of a folder through :func:`fusionmat.run.process.process`, its
outputs mirrored under an output folder, resumable, with a report of what was done, skipped and
failed (and why).

Library code with no Click: ``fusionmat batch`` parses options and shows progress around
:func:`run_batch`; ``predict`` and ``compose`` use the same :func:`run_local`. Executors only
schedule: threads here, Ray actors in :mod:`fusionmat.run.ray_executor`.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionmat.engines.base import Engine
from fusionmat.errors import FusionmatError
from fusionmat.outputs.plan import OutputPlan
from fusionmat.run.process import DONE, FAILED, SKIPPED, Job, Outcome, Session, process


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
class SessionSpec:
    """Everything a worker needs to build its :class:`~fusionmat.run.process.Session`; picklable,
    so each Ray actor builds its own from the same spec.

    engine, engine_options : what :func:`fusionmat.engines.load_engine` takes.
    refine : 'auto' (the engine's own), 'closed-form' or 'none'.
    preprocess : the preprocessing :class:`~fusionmat.preprocess.chain.Settings`.
    plan : the outputs besides matte and preview (cut-out, background, format, quality).
    threads : CPU threads of the engine and detectors (None: all cores).
    """

    engine: str | None = None
    engine_options: Mapping[str, Any] = field(default_factory=dict)
    refine: str = "auto"
    preprocess: Any = None
    plan: OutputPlan = field(default_factory=OutputPlan)
    threads: int | None = None

    def build(self, engine: Engine | None = None, **session) -> Session:
        """Load the engine (unless a loaded one is given) and the preprocessing; ``session``:
        further :class:`~fusionmat.run.process.Session` fields (steps_dir, inputs)."""
        from fusionmat.engines import DEFAULT_ENGINE, load_engine
        from fusionmat.matting.pipeline import refine_method
        from fusionmat.preprocess.chain import NOTHING, Preprocessor

        if engine is None:
            engine = load_engine(self.engine or DEFAULT_ENGINE, threads=self.threads, **dict(self.engine_options))
        settings = self.preprocess
        preprocessor = None if settings is None or settings == NOTHING else Preprocessor(settings, threads=self.threads,
                                                                                          tilt=engine.tilt)
        return Session(engine, refine_method(engine, self.refine), preprocessor, self.plan, **session)


def session_key(session: Session, *, matte=None) -> str:
    """The settings key stamped into each image's outputs (see :mod:`fusionmat.outputs.resume`); with a
    ``matte`` file (``compose --matte``) that file's identity stands for the engine's settings."""
    from fusionmat.outputs.resume import settings_key

    plan, preprocessor, engine = session.plan, session.preprocessor, session.engine
    background = plan.background
    return settings_key({
        "engine": engine.settings() if matte is None and engine is not None else {"matte": matte},
        "refine": session.refine if matte is None else "none",
        "preprocess": (dataclasses.asdict(preprocessor.settings)
                       if preprocessor is not None and matte is None else None),
        "cutout": plan.cutout,
        "background": None if background is None else {"spec": dataclasses.asdict(background.spec),
                                                       "fit": background.fit},
        "composite": plan.composite_suffix,
        "quality": plan.quality,
        "mask": None if plan.mask is None else dataclasses.asdict(plan.mask),
    })


@dataclass
class Report:
    """What happened to each file: the summary line, ``--json`` and the exit status come from it."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    ignored: int = 0
    stale_temps_removed: int = 0
    interrupted: bool = False
    start: float = field(default_factory=time.perf_counter)
    end: float | None = None
    first_result: float | None = None

    def record(self, outcome: Outcome) -> None:
        """Count one outcome (done, skipped or failed, with its warning)."""
        if outcome.status == SKIPPED:
            self.skipped.append(str(outcome.image))
            return
        if outcome.status == FAILED:
            self.fail(outcome.image, outcome.error)
        else:
            self.done.append(str(outcome.image))
            self._result()
        if outcome.warning:
            self.warnings.append({"file": str(outcome.image), "warning": outcome.warning})

    def fail(self, path, reason: str) -> None:
        """Record ``path`` as failed with ``reason`` (one line naming it)."""
        self.failed.append({"file": str(path), "error": reason.removeprefix(f"{path}: ")})
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
        return {"done": self.done, "skipped": self.skipped, "failed": self.failed, "warnings": self.warnings,
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


def run_local(jobs: list[Job], session: Session, *, workers: int = 2,
              on_outcome: Callable[[Outcome], None] | None = None) -> bool:
    """Do ``jobs`` with ``workers`` threads, each calling :func:`~fusionmat.run.process.process`
    (the engine runs one image at a time under the session's lock while the other threads read,
    upsample, refine and encode). ``on_outcome`` gets each outcome as it finishes.

    Ctrl-C or SIGTERM (KeyboardInterrupt) stops taking new images, lets the images in progress
    finish (their outcomes are reported; outputs are written atomically, so none is partial) and
    returns True; otherwise False. Only this (calling) thread receives the interrupt, so the
    numerical libraries working in the threads are never interrupted half-way.
    """
    from fusionmat.limits import MAX_WORKERS
    from fusionmat.matting.refine import preload

    report = on_outcome or (lambda outcome: None)
    if not jobs:
        return False
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be 1-{MAX_WORKERS}, got {workers}")
    preload(session.refine)
    pending = iter(jobs)
    running: set[Future] = set()
    interrupted = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fusionmat") as pool:
        try:
            while True:
                while len(running) < workers + 1:  # one queued ahead, so no thread waits for the next job
                    job = next(pending, None)
                    if job is None:
                        break
                    running.add(pool.submit(process, job, session))
                if not running:
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    report(future.result())
        except KeyboardInterrupt:
            interrupted = True
            for future in running:
                future.cancel()
            for future in running:  # what is in progress finishes and is reported as it ends
                if not future.cancelled():
                    report(future.result())
    return interrupted


@dataclass(frozen=True)
class BatchConfig:
    """How a folder is run, besides what each image gets (:class:`SessionSpec`).

    recursive : also sub-folders. overwrite : redo images whose outputs are up to date.
    executor : 'local' (threads) or 'ray' (Ray Data actors). workers : threads of the local executor.
    address, concurrency, cpus_per_actor : the Ray cluster (default: a local Ray), actors, CPUs each.
    """

    recursive: bool = False
    overwrite: bool = False
    executor: str = "local"
    workers: int = 2
    address: str | None = None
    concurrency: int = 1
    cpus_per_actor: float = 1.0

    def __post_init__(self) -> None:
        from fusionmat.limits import MAX_WORKERS

        if self.executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ValueError(f"workers must be 1-{MAX_WORKERS}, got {self.workers}")


def run_batch(src: str | Path, out: str | Path | None = None, *, engine: Engine | str | None = None,
              refine: str = "auto", rotate="auto", crop="auto", aspect="none", cutout: bool = False,
              background: str | None = None, fit: str = "cover", composite_format: str = "auto",
              quality: int = 95, threads: int | None = None, engine_options: dict | None = None,
              only: str | None = None, mask: dict | None = None, on_outcome: Callable[[Outcome], None] | None = None,
              **config) -> Report:
    """Mattes and previews (and cut-outs, composites) for every image in folder ``src``.

    Parameters
    ----------
    src : folder of photos (found by content; see :func:`fusionmat.io.folder.find_images`), a
        path or an fsspec URL (``s3://bucket/shoot``; needs ``fusionmat[url]``).
    out : output folder, mirroring ``src``'s tree (default ``<src>_matting`` beside it).
    engine : an engine name (default: the default engine) or, for the local executor, a loaded engine.
    engine_options : the engine's options (``{"long_side": 640}``; see ``fusionmat engines``).
    refine, rotate, crop, aspect : as :func:`fusionmat.matte`.
    cutout : also ``<stem>_cutout.png``.
    background, fit : also ``<stem>_composite.*`` on this background (a colour such as '#RRGGBB',
        'white', '#RRGGBBAA' or 'transparent'; 'blur[:S]'; a picture), fitted by ``fit``.
    composite_format, quality : the composite's type ('auto': jpg, or png for a translucent
        background; 'jpg', 'png', 'webp') and JPEG / WebP quality.
    threads : CPU threads of the engine.
    only : write only these outputs, comma-separated: 'matte', 'preview', 'cutout', 'composite'
        (``"cutout"`` is rembg's folder mode; resume works per chosen output).
    mask : mask controls, ``{"threshold": 0.5, "erode": 2, "feather": 3, "trim": 10}``
        (:data:`fusionmat.matting.mask.OPTIONS`).
    on_outcome : called with each image's :class:`~fusionmat.run.process.Outcome` as it finishes.
    config : the fields of :class:`BatchConfig` (recursive, overwrite, executor, workers, address,
        concurrency, cpus_per_actor).

    Returns
    -------
    A :class:`Report`. Bad files are failed entries, never exceptions; a bad option raises
    ValueError, an unusable engine or background a FusionmatError.
    """
    from fusionmat.io.folder import find_images
    from fusionmat.io.storage import as_path
    from fusionmat.matting.mask import parse_mask
    from fusionmat.outputs.plan import load_background, parse_only
    from fusionmat.preprocess.chain import settings_of

    batch = BatchConfig(**config)
    src = as_path(src)
    if not src.is_dir():
        raise FusionmatError(f"{src}: not a folder")
    out_root = as_path(out) if out is not None else default_out(src)
    if same_place(out_root, src):
        raise ValueError("the output folder must not be the input folder")
    plan = OutputPlan(cutout=cutout, background=load_background(background, fit) if background else None,
                      composite_format=composite_format, quality=quality, only=parse_only(only),
                      mask=parse_mask({k: str(v) for k, v in (mask or {}).items()}))
    name = engine.name if isinstance(engine, Engine) else engine
    spec = SessionSpec(name, dict(engine_options or {}), refine, settings_of(rotate, crop, aspect), plan, threads)
    if isinstance(engine, Engine) and batch.executor != "local":
        raise ValueError("a loaded engine runs only locally; give the engine's name for executor 'ray'")
    session = spec.build(engine if isinstance(engine, Engine) else None)
    report = Report()
    images, report.ignored = find_images(src, recursive=batch.recursive, exclude=out_root)
    return run_folder(images, src, out_root, spec, session, batch, report=report, on_outcome=on_outcome)


def run_folder(images: list, src, out_root, spec: SessionSpec, session: Session, batch: BatchConfig, *,
               report: Report, on_outcome: Callable[[Outcome], None] | None = None,
               on_planned: Callable[[int], None] | None = None) -> Report:
    """Plan ``images`` of folder ``src`` (outputs mirrored under ``out_root``) and do them on
    ``batch.executor``; results go into ``report`` (and to ``on_outcome``). ``on_planned`` gets
    the number of jobs to do once planning is over (a progress bar's total)."""
    from fusionmat.io.storage import child, relative_folder
    from fusionmat.run.planning import plan_jobs, run_inputs

    inputs = run_inputs(images, spec.plan)
    session.inputs = inputs
    planned = plan_jobs(images, lambda path: child(out_root, relative_folder(path, src)), spec.plan,
                        key=session_key(session), inputs=inputs, overwrite=batch.overwrite)
    report.stale_temps_removed += planned.stale_temps_removed

    def record(outcome: Outcome) -> None:
        report.record(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    for image, reason in planned.failed:
        record(Outcome(Job(image), FAILED, reason))
    for job in planned.skipped:
        report.record(Outcome(job, SKIPPED))
    if on_planned is not None:
        on_planned(len(planned.jobs))
    report.start = time.perf_counter()
    try:
        if batch.executor == "ray":
            from fusionmat.run.ray_executor import run_ray

            report.interrupted = run_ray(planned.jobs, spec, batch, on_outcome=record)
        else:
            report.interrupted = run_local(planned.jobs, session, workers=batch.workers, on_outcome=record)
    finally:
        report.end = time.perf_counter()
    return report


__all__ = ["BatchConfig", "Report", "SessionSpec", "default_out", "run_batch", "run_folder", "run_local",
           "session_key", "DONE"]
