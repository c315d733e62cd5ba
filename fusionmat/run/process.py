"""The one per-image path: a photo in, its matte and outputs out, or one line saying why not.

``predict``, ``compose``, ``batch`` (threads and Ray actors), each video frame and each HTTP
request call :func:`process`; executors only schedule it. So the rules for one image live
here once: how it is read (a file, bytes, a decoded frame), the pixel budget, which matte is
used, how outputs are written, and the error policy — any exception raised for one image is
that image's failure (its name and the reason); only KeyboardInterrupt and SystemExit stop a run.
"""
from __future__ import annotations

import io
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionmat.engines.base import Engine
from fusionmat.errors import Cancelled, FusionmatError, naming
from fusionmat.matting.mask import masked
from fusionmat.outputs.plan import OutputPlan

DONE, SKIPPED, FAILED = "done", "skipped", "failed"
NO_PERSON = "no person found; the matte is empty"


@dataclass(frozen=True)
class Job:
    """One image to do.

    image : the photo's path (or URL), or only its name in messages when ``data`` or ``pixels`` is given.
    outputs : files to write, by kind ('matting', 'concat', 'cutout', 'composite').
    data : the encoded photo (standard input, an upload).
    pixels : the decoded photo, HxWx3 (a video frame).
    matte : a matte to use instead of the engine: a file (``compose --matte``) or an HxW array in [0, 1].
    key : the settings key; when given, the anchor output is stamped for resume (:mod:`fusionmat.outputs.resume`).
    keep : what to return in memory besides writing: 'alpha' (the HxW float matte) and the
        kinds :func:`fusionmat.outputs.plan.render` makes ('matte', 'preview', 'cutout', 'composite').
    cancel : when set (by another thread), the job stops at its next step with :class:`~fusionmat.errors.Cancelled`.
    """

    image: Path | str
    outputs: Mapping[str, Path] = field(default_factory=dict)
    data: bytes | None = None
    pixels: np.ndarray | None = None
    matte: Path | np.ndarray | None = None
    key: str | None = None
    keep: tuple[str, ...] = ()
    cancel: threading.Event | None = None

    def check(self) -> None:
        """Cancelled when :attr:`cancel` is set: called between steps."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{self.image}: called off")


@dataclass
class Outcome:
    """What happened to one :class:`Job`: status 'done', 'skipped' or 'failed'.

    error : the one-line reason of a failure, naming the image; ``exception`` is what was raised.
    warning : a one-line note on a done image (no person found).
    alpha, rendered : what ``job.keep`` asked for.
    steps : what preprocessing did, one line each; ``saved``: the step images written (``Session.steps_dir``);
    ``seconds``: by stage (read, engine, outputs).
    """

    job: Job
    status: str = DONE
    error: str = ""
    exception: BaseException | None = None
    warning: str = ""
    alpha: np.ndarray | None = None
    rendered: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def image(self) -> Path | str:
        return self.job.image

    @property
    def found(self) -> bool:
        """False when the engine found no person (the matte is empty)."""
        return self.warning != NO_PERSON


@dataclass
class Session:
    """What a worker loads once and every image shares.

    engine : a loaded engine (None when every job brings its own matte).
    refine : the refinement method ('none', 'closed-form'; see :func:`fusionmat.matting.pipeline.refine_method`).
    preprocessor : the preprocessing chain, or None.
    plan : what to write besides the files of ``job.outputs`` needs (background, quality).
    steps_dir : when set, what the engine saw after each preprocessing step is saved there.
    inputs : the run's inputs (:class:`fusionmat.run.planning.Inputs`): saved steps never overwrite one.

    Thread safety: :func:`process` may run in several threads on one session. The engine and the
    detectors (LiteRT interpreters are not thread-safe) run under ``lock``, one image at a time;
    reading, upsampling, refinement and encoding run in parallel.
    """

    engine: Engine | None
    refine: str = "none"
    preprocessor: Any = None
    plan: OutputPlan = field(default_factory=OutputPlan)
    steps_dir: Path | None = None
    inputs: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def describe(image, exc: BaseException) -> str:
    """One line naming ``image`` for any exception: the message of fusionmat's own errors, the
    operating system's words for an OSError, and the type and message of anything unexpected."""
    if isinstance(exc, FusionmatError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "out of memory"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = f"unexpected error: {type(exc).__name__}: {exc}"
    return naming(image, " ".join(text.split()) or type(exc).__name__)


_current = threading.local()


def current_image() -> Path | str | None:
    """The image this thread is processing (so a library's warning can be told with its name)."""
    return getattr(_current, "image", None)


def process(job: Job, session: Session) -> Outcome:
    """Do one image: read it, matte it (or take the given matte), write ``job.outputs``, keep what
    ``job.keep`` asks for. Never raises for the image's sake: a failure is the outcome's ``error``."""
    outcome = Outcome(job)
    clock = time.perf_counter()
    _current.image = job.image
    try:
        stamp = _stamp(job)
        job.check()
        rgb = photo_of(job)
        outcome.seconds["read"] = time.perf_counter() - clock
        job.check()
        alpha = _alpha(rgb, job, session, outcome)
        outcome.seconds["engine"] = time.perf_counter() - clock - outcome.seconds["read"]
        job.check()
        shown, shown_alpha = masked(rgb, alpha, session.plan.mask)  # the mask controls, trimming
        if job.outputs:
            from fusionmat.outputs.plan import write_outputs

            write_outputs(shown, shown_alpha, job.outputs, session.plan, stamp=stamp)
        if job.keep:
            from fusionmat.outputs.plan import render

            for kind in job.keep:
                if kind != "alpha":
                    job.check()
                    outcome.rendered[kind] = render(shown, shown_alpha, kind, session.plan)
            if "alpha" in job.keep:
                outcome.alpha = alpha  # the matte itself, before the mask controls
        outcome.seconds["outputs"] = time.perf_counter() - clock - sum(outcome.seconds.values())
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - the error policy: one image's failure, whatever it is
        outcome.status, outcome.error, outcome.exception = FAILED, describe(job.image, exc), exc
    finally:
        _current.image = None
    return outcome


def photo_of(job: Job) -> np.ndarray:
    """The job's photo as uint8 (or float) HxWx3 RGB, within the pixel budget."""
    from fusionmat.io.read import checked_rgb, read_image
    from fusionmat.limits import check_pixels

    if job.pixels is not None:
        rgb = checked_rgb(job.pixels, str(job.image))
        check_pixels(rgb.shape[1], rgb.shape[0], str(job.image))
        return rgb
    if job.data is not None:
        source = io.BytesIO(job.data)
        source.name = str(job.image)
        return read_image(source, dtype=np.uint8)
    return read_image(job.image, dtype=np.uint8)


def _stamp(job: Job) -> str | None:
    """The resume stamp, taken before the photo is read (None without a key, or if it vanished)."""
    if job.key is None or job.data is not None or job.pixels is not None:
        return None
    from fusionmat.outputs.resume import stamp

    try:
        return stamp(job.image, job.key)
    except OSError:
        return None  # gone or unreadable: reading says why


def _alpha(rgb: np.ndarray, job: Job, session: Session, outcome: Outcome) -> np.ndarray:
    """The job's matte: the one it brings, or the engine's (preprocessed, upsampled, refined)."""
    if job.matte is not None:
        return given_matte(job.matte, rgb.shape[:2])
    if session.engine is None:
        raise ValueError("a session without an engine needs a matte for every job")
    from fusionmat.matting.pipeline import full_size, run_engine
    from fusionmat.matting.refine import REFINERS

    with session.lock:
        engine_pass = run_engine(rgb, session.engine, preprocessor=session.preprocessor)
    job.check()
    outcome.steps = [f"{step.step}, {step.detail}" for step in engine_pass.steps]
    if session.steps_dir is not None:
        outcome.saved = save_steps(job.image, engine_pass.steps, session.steps_dir, session.inputs)
    if not engine_pass.found:
        outcome.warning = NO_PERSON
        return np.zeros(rgb.shape[:2], np.float32)
    return REFINERS[session.refine](rgb, full_size(engine_pass))


def given_matte(matte: Path | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A matte brought by the job, as HxW float32 in [0, 1]; it must have the photo's size."""
    from fusionmat.io.read import read_matte

    alpha = read_matte(matte) if not isinstance(matte, np.ndarray) else matte
    if alpha.dtype == np.uint8:
        alpha = alpha.astype(np.float32) / 255.0
    if alpha.shape != tuple(shape):
        where = f"{matte}: " if not isinstance(matte, np.ndarray) else ""
        raise FusionmatError(f"{where}the matte is {alpha.shape[1]}x{alpha.shape[0]}, "
                             f"the photo is {shape[1]}x{shape[0]}")
    return alpha


def save_steps(image, steps, folder: Path, inputs=None) -> list[str]:
    """Write what the engine saw after each changing step: ``<stem>_<n>_<step>.jpg`` in ``folder``,
    never over one of the run's ``inputs``; one line per file written ('step 1: rotate, ... -> path')."""
    from fusionmat.io.write import save_image
    from fusionmat.outputs.resume import OUTPUT_MARK, STAMP_KEY

    stem = Path(str(image)).stem
    written = []
    for number, step in enumerate((s for s in steps if s.changed), start=1):
        path = Path(folder) / f"{stem}_{number}_{step.step}.jpg"
        if inputs is not None:
            inputs.refuse([path])
        saved = save_image(path, step.image, text={STAMP_KEY: OUTPUT_MARK})
        written.append(f"step {number}: {step.step}, {step.detail} -> {saved}")
    return written

