"""The batch runner on Ray Data, for folders that outgrow one machine (``--executor ray``).

The driver plans the jobs exactly as a local run does (:func:`fusionmat.run.planning.plan_jobs`:
resume stamps, clashes, inputs), turns them into a dataset and maps it with :class:`MatteWorker`,
a class-based worker that builds its session once per actor. Each worker calls the same
:func:`fusionmat.run.process.process` as local threads: it reads its photo, runs the whole
pipeline and writes the outputs itself, atomically (a local path on shared storage,
or an fsspec URL such as ``s3://bucket/out``: whole objects only). Only each file's result
(done, or the one-line reason it failed) comes back to the driver, which keeps the same
report, progress and exit status as a local run. A bad file is one failed entry, never a failed
job. Needs ``pip install 'fusionmat[ray]'``.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np

from fusionmat.errors import FusionmatError, MissingDependencyError
from fusionmat.run.batch import BatchConfig, SessionSpec
from fusionmat.run.process import DONE, FAILED, Job, Outcome

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
    """One Ray actor: builds its session (engine, preprocessing) once, then does batches of jobs
    with :func:`fusionmat.run.process.process`."""

    def __init__(self, spec: SessionSpec, threads: int | None = None) -> None:
        self.session = dataclasses.replace(spec, threads=threads).build()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        from fusionmat.io.storage import as_path
        from fusionmat.run.process import Job, process

        done: dict[str, list[str]] = {"image": [], "error": [], "warning": []}
        for image, outputs, key in zip(batch["image"], batch["outputs"], batch["key"]):
            job = Job(as_path(str(image)), {kind: as_path(p) for kind, p in json.loads(str(outputs)).items()},
                      key=str(key) or None)
            outcome = process(job, self.session)
            done["image"].append(str(image))
            done["error"].append(outcome.error)
            done["warning"].append(outcome.warning)
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


def run_ray(jobs: list[Job], spec: SessionSpec, batch: BatchConfig, *,
            on_outcome: Callable[[Outcome], None] | None = None) -> bool:
    """Do ``jobs`` on Ray Data with ``batch.concurrency`` actors of ``batch.cpus_per_actor`` CPUs,
    each building its own session from ``spec``; each outcome goes to ``on_outcome`` as it arrives.

    Returns True when Ctrl-C stopped the run (outputs are whole or absent; a killed actor's temp
    files are removed by the next run). A cluster that fails is one FusionmatError.
    """
    report = on_outcome or (lambda outcome: None)
    if not jobs:
        return False
    ray = start_ray(batch.address)
    rows = [{"image": str(job.image), "outputs": json.dumps({k: str(p) for k, p in job.outputs.items()}),
             "key": job.key or ""} for job in jobs]
    by_name = {str(job.image): job for job in jobs}
    threads = max(1, int(batch.cpus_per_actor))
    dataset = ray.data.from_items(rows, override_num_blocks=block_count(len(rows)))
    results = dataset.map_batches(MatteWorker, batch_size=1, concurrency=batch.concurrency,
                                  num_cpus=batch.cpus_per_actor,
                                  fn_constructor_kwargs={"spec": spec, "threads": threads})
    rows = iter(results.iter_rows())
    interrupted = False
    try:
        for row in rows:
            job = by_name.get(row["image"]) or Job(row["image"])
            report(Outcome(job, FAILED if row["error"] else DONE, row["error"], warning=row["warning"]))
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:  # noqa: BLE001 - the cluster failed (an actor could not start): say so once
        raise FusionmatError(f"the Ray run failed: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # stops the dataset's execution: no actor takes a new image
    return interrupted
