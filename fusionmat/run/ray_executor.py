"""The batch runner on Ray Data, for folders that outgrow one machine (``--executor ray``).

The driver plans the jobs exactly as a local run does (:func:`fusionmat.run.batch.plan_jobs`:
resume stamps, clashes), turns them into a dataset and maps it with :class:`MatteWorker`,
a class-based worker that loads the engine once per actor. Each worker reads its photo, runs
the whole pipeline and writes the outputs itself, atomically (a local path on shared storage,
or an fsspec URL such as ``s3://bucket/out``: whole objects only). Only each file's result
(done, or the one-line reason it failed) comes back to the driver, which keeps the same
report, progress and exit status as a local run. A bad file is one failed entry, never a failed
job. Needs ``pip install 'fusionmat[ray]'``.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np

from fusionmat.errors import FusionmatError, MissingDependencyError, naming
from fusionmat.outputs.plan import OutputPlan
from fusionmat.run.batch import Event, Job, Report, stamp_for


SMALL_JOB = 1000
"""Up to this many images, one image per block: results (and the progress bar) move image by image."""
MAX_BLOCKS = 10000
"""Beyond SMALL_JOB, four images per block (Ray Data's cost per block is a few ms), at most this many blocks."""


def block_count(images: int) -> int:
    """Blocks of the job dataset for ``images`` images (see SMALL_JOB and MAX_BLOCKS)."""
    if images <= SMALL_JOB:
        return max(1, images)
    return min(MAX_BLOCKS, max(SMALL_JOB, images // 4))


class MatteWorker:
    """One Ray actor: loads the engine and preprocessing once, then does batches of jobs."""

    def __init__(self, engine: str, engine_options: dict, refine: str, settings, plan: OutputPlan,
                 threads: int | None = None) -> None:
        from fusionmat.engines import load_engine
        from fusionmat.preprocess.chain import Preprocessor

        self.engine = load_engine(engine, threads=threads, **engine_options)
        self.preprocessor = Preprocessor(settings, threads=threads) if settings is not None else None
        self.refine = refine
        self.plan = plan

    def do(self, image: str, outputs: str, stamp: str) -> tuple[str, str]:
        """(error, warning) of one job; '' when there is none."""
        from fusionmat.io.read import read_image
        from fusionmat.run.batch import engine_pass_of, finish_and_write
        from fusionmat.io.storage import as_path

        job = Job(as_path(image), {kind: as_path(p) for kind, p in json.loads(outputs).items()})
        try:
            rgb = read_image(job.image, dtype=np.uint8)
            engine_pass, warning = engine_pass_of(rgb, self.engine, self.preprocessor)
            finish_and_write(rgb, engine_pass, self.refine, job, self.plan, stamp or None)
        except FusionmatError as exc:
            return naming(image, exc), ""
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not fail the whole job
            return naming(image, f"unexpected error: {exc!r}"), ""
        return "", warning

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        done: dict[str, list[str]] = {"image": [], "error": [], "warning": []}
        for image, outputs, stamp in zip(batch["image"], batch["outputs"], batch["stamp"]):
            error, warning = self.do(str(image), str(outputs), str(stamp))
            done["image"].append(str(image))
            done["error"].append(error)
            done["warning"].append(warning)
        return done


def start_ray(address: str | None = None):
    """The ``ray`` module, connected to ``address`` (or a local Ray started here) unless already so."""
    import logging
    import os

    # Ray's own chatter (plans, C++ notes) would bury the progress bar and the summary.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import ray
    except ModuleNotFoundError:
        raise MissingDependencyError("--executor ray needs Ray: pip install 'fusionmat[ray]'") from None
    if not ray.is_initialized():
        from fusionmat.quiet import native_stderr_silenced

        try:
            with native_stderr_silenced():
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         logging_level=logging.ERROR, configure_logging=True)
        except ConnectionError as exc:
            raise FusionmatError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return ray


def run_ray(jobs: list[Job], *, engine: str, engine_options: dict, refine: str, settings, plan: OutputPlan,
            key: str, report: Report, concurrency: int = 1, cpus_per_actor: float = 1.0,
            address: str | None = None, on_event: Callable[[Event], None] | None = None) -> Report:
    """Do ``jobs`` on Ray Data with ``concurrency`` actors of ``cpus_per_actor`` CPUs each.

    ``engine`` and ``engine_options`` are what :func:`fusionmat.engines.load_engine` takes (each
    actor loads its own); ``settings`` the preprocessing :class:`~fusionmat.preprocess.chain.Settings`
    (None for none). Results go into ``report`` as they arrive; Ctrl-C stops the run (outputs are
    whole or absent; a killed actor's temp files are removed by the next run).
    """
    emit = on_event or (lambda event: None)
    if not jobs:
        report.end = time.perf_counter()
        return report
    ray = start_ray(address)
    rows = [{"image": str(job.image), "outputs": json.dumps({k: str(p) for k, p in job.outputs.items()}),
             "stamp": stamp_for(job, key) or ""} for job in jobs]
    by_name = {str(job.image): job.image for job in jobs}
    threads = max(1, int(cpus_per_actor))
    dataset = ray.data.from_items(rows, override_num_blocks=block_count(len(rows)))
    results = dataset.map_batches(
        MatteWorker, batch_size=1, concurrency=concurrency, num_cpus=cpus_per_actor,
        fn_constructor_kwargs={"engine": engine, "engine_options": engine_options, "refine": refine,
                               "settings": settings, "plan": plan, "threads": threads})
    rows = iter(results.iter_rows())
    try:
        for row in rows:
            image = by_name.get(row["image"], row["image"])
            if row["warning"]:
                emit(Event("warning", image, f"{row['image']}: {row['warning']}"))
            if row["error"]:
                report.fail(image, row["error"])
                emit(Event("failed", image, row["error"]))
            else:
                report.finish(image)
                emit(Event("done", image))
    except KeyboardInterrupt:
        report.interrupted = True
    except Exception as exc:  # noqa: BLE001 - the cluster failed (an actor could not start): say so once
        raise FusionmatError(f"the Ray run failed: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # stops the dataset's execution: no actor takes a new image
        report.end = time.perf_counter()
    return report
