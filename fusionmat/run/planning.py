"""Which jobs a run does: each image's output files, refusing any output that is one of the
run's inputs or another image's output, and skipping images whose outputs are up to date.

One planner for ``predict``, ``compose`` and ``batch`` (local threads and Ray alike).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fusionmat.errors import OutputError, naming
from fusionmat.outputs.plan import OutputPlan, output_paths
from fusionmat.run.process import Job


def where(path) -> object:
    """What identifies a file for clashes: its resolved path (links followed), or a URL as it is."""
    from fusionmat.io.storage import is_remote

    return path if is_remote(path) else Path(path).resolve()


class Inputs:
    """Every file a run reads — photos, the background picture, a matte given with ``--matte`` —
    by resolved path, so a link and its target are the same file. No output may be one of them."""

    def __init__(self, paths: Iterable = ()) -> None:
        self._paths = {where(p) for p in paths}

    def add(self, *paths) -> None:
        """Add more inputs."""
        self._paths.update(where(p) for p in paths)

    def __contains__(self, path) -> bool:
        return where(path) in self._paths

    def refuse(self, outputs: Iterable) -> None:
        """OutputError for the first of ``outputs`` that is an input."""
        for out in outputs:
            if out in self:
                raise OutputError(f"{out}: refusing to overwrite an input file")


def run_inputs(images: Iterable, plan: OutputPlan, *extra) -> Inputs:
    """The inputs of a run: its photos, the background picture of ``plan`` and ``extra`` files."""
    inputs = Inputs(images)
    if plan.background is not None and plan.background.spec.path is not None:
        inputs.add(plan.background.spec.path)
    inputs.add(*(p for p in extra if p is not None))
    return inputs


@dataclass
class Planned:
    """The jobs to do, and the images skipped (up to date) or failed at planning (with reasons)."""

    jobs: list[Job] = field(default_factory=list)
    skipped: list[Job] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    stale_temps_removed: int = 0


def plan_jobs(images: Iterable[Path], folder_of: Callable[[Path], Path], plan: OutputPlan, *, key: str | None,
              inputs: Inputs, overwrite: bool = True, matte=None) -> Planned:
    """One :class:`Job` per image, its outputs in ``folder_of(image)``.

    An image whose outputs would overwrite an input or another image's outputs fails here;
    unless ``overwrite``, one whose outputs are up to date for ``key`` is skipped. Temp files
    that a killed earlier run left in an output folder are removed (not on object stores).
    """
    from fusionmat.io.storage import is_remote
    from fusionmat.io.write import clean_stale_temps
    from fusionmat.outputs.resume import is_up_to_date

    planned = Planned()
    claimed: dict = {}
    cleaned: set = set()
    for image in images:
        folder = folder_of(image)
        paths = output_paths(image, folder, plan)
        try:
            inputs.refuse(paths.values())
            clash = next((claimed[where(p)] for p in paths.values() if where(p) in claimed), None)
            if clash is not None:
                raise OutputError(f"{image}: its outputs would overwrite those of {clash} (same name stem); "
                                  "use another output folder")
        except OutputError as exc:
            planned.failed.append((image, naming(image, exc)))
            continue
        claimed.update({where(p): image for p in paths.values()})
        if folder not in cleaned:
            cleaned.add(folder)
            if not is_remote(folder):  # an object store gets whole objects only: no temp files there
                planned.stale_temps_removed += len(clean_stale_temps(folder))
        job = Job(image, paths, matte=matte, key=key)
        if not overwrite and key is not None and is_up_to_date(image, paths, key):
            planned.skipped.append(job)
        else:
            planned.jobs.append(job)
    return planned
