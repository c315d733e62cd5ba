"""fusionmat: portrait matting from the command line and from Python.

>>> import fusionmat
>>> alpha = fusionmat.matte("portrait.jpg")          # HxW float32 in [0, 1]
>>> engine = fusionmat.load_engine()                  # the default engine (modnet), load once ...
>>> alphas = [fusionmat.matte(p, engine=engine) for p in paths]   # ... reuse
>>> rgba = fusionmat.cutout("portrait.jpg")           # HxWx4 float32, foreground colours estimated
>>> rgb = fusionmat.composite("portrait.jpg", "#ffffff")   # or a picture's path, or "blur:30"
>>> report = fusionmat.batch("shoot/", "shoot_mattes/", crop="auto")   # a whole folder, resumable
>>> report.done, report.skipped, report.failed
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from fusionmat.engines.base import Engine

_default_engine = None
_sessions: dict = {}
_lock = threading.Lock()


def load_engine(name: str | None = None, **options):
    """Build an engine by name ('modnet', the default; 'selfie'; 'latefusion'); see :mod:`fusionmat.engines`."""
    from fusionmat.engines import DEFAULT_ENGINE
    from fusionmat.engines import load_engine as _load

    return _load(name or DEFAULT_ENGINE, **options)


def matte(image: "np.ndarray | str | os.PathLike", *, engine: "Engine | None" = None, refine: str = "auto",
          rotate: "str | float" = "auto", crop: "str | tuple[int, int, int, int]" = "auto",
          aspect: "str | tuple[float, float]" = "none") -> "np.ndarray":
    """Alpha matte of one image.

    Parameters
    ----------
    image : path of an image file, or HxWx3 RGB array (uint8, or float in [0, 1]).
    engine : a loaded engine; by default the default engine, loaded on first use and
        kept for the rest of the process.
    refine : 'auto', 'closed-form' or 'none'.
    rotate, crop, aspect : the preprocessing steps, as the CLI options of the same names:
        'auto' / 'none' / degrees; 'auto' / 'none' / (x, y, w, h); 'none' / (w, h) ratio.

    Returns
    -------
    HxW float32 in [0, 1], aligned with the (EXIF-corrected) image. A photo with no person gives
    an all-zero matte and a :class:`~fusionmat.matting.refine.NoSubjectWarning`.

    Thread safety: safe to call from several threads, with the default engine or one engine of
    yours: each engine runs one image at a time (its interpreters are not thread-safe), while
    reading, upsampling and refinement run in parallel. Raises the image's error (an
    ImageReadError for a bad file, BudgetError over the pixel limit).
    """
    import warnings

    from fusionmat.matting.refine import NoSubjectWarning
    from fusionmat.run.process import Job, process

    if isinstance(image, (str, os.PathLike)):
        job = Job(image, keep=("alpha",))
    else:
        job = Job("image", pixels=image, keep=("alpha",))
    outcome = process(job, _session(engine, refine, rotate, crop, aspect))
    if outcome.exception is not None:
        raise outcome.exception
    if outcome.warning:
        warnings.warn(outcome.warning, NoSubjectWarning, stacklevel=2)
    return outcome.alpha


def _session(engine, refine: str, rotate, crop, aspect):
    """The session for these settings: one per engine and settings, sharing the engine's lock."""
    global _default_engine
    from fusionmat.preprocess.chain import settings_of
    from fusionmat.run.batch import SessionSpec

    with _lock:
        if engine is None:
            if _default_engine is None:
                _default_engine = load_engine()
            engine = _default_engine
        settings = settings_of(rotate, crop, aspect)
        key = (id(engine), refine, settings)
        if key not in _sessions:
            same_engine = next((s for (e, *_), s in _sessions.items() if e == id(engine)), None)
            session = SessionSpec(engine.name, refine=refine, preprocess=settings).build(engine)
            if same_engine is not None:
                session.lock = same_engine.lock  # one engine, one lock
            _sessions[key] = session
        return _sessions[key]


def _photo(image):
    import numpy as np

    from fusionmat.io.read import checked_rgb, read_image

    if isinstance(image, (str, os.PathLike)):
        return read_image(image, dtype=np.uint8)
    return checked_rgb(image)


def cutout(image: "np.ndarray | str | os.PathLike", alpha: "np.ndarray | None" = None, **options) -> "np.ndarray":
    """The people of one image as HxWx4 float32 RGBA in [0, 1], foreground colours estimated.

    ``alpha`` is its matte (computed with :func:`matte` and ``options`` when None).
    """
    from fusionmat.outputs.plan import cutout as _cutout

    rgb = _photo(image)
    return _cutout(rgb, alpha if alpha is not None else matte(rgb, **options))


def composite(image: "np.ndarray | str | os.PathLike", background: str, alpha: "np.ndarray | None" = None, *,
              fit: str = "cover", **options) -> "np.ndarray":
    """The people of one image on ``background`` ('#RRGGBB', 'blur[:SIGMA]' or a picture's path,
    placed by ``fit``: cover, contain or stretch); HxWx3 float32 in [0, 1].

    ``alpha`` is its matte (computed with :func:`matte` and ``options`` when None).
    """
    from fusionmat.outputs.plan import composite_onto

    rgb = _photo(image)
    return composite_onto(rgb, alpha if alpha is not None else matte(rgb, **options), background, fit)


def batch(src: "str | os.PathLike", out: "str | os.PathLike | None" = None, **options):
    """Every image of folder ``src`` (mattes, previews, and cut-outs or composites when asked),
    written under ``out``; resumable. Returns a :class:`fusionmat.run.batch.Report` (done, skipped,
    failed with reasons). Options: see :func:`fusionmat.run.batch.run_batch`."""
    from fusionmat.run.batch import run_batch

    return run_batch(src, out, **options)


def video(source: "str | os.PathLike", out: "str | os.PathLike | None" = None, **options):
    """Matte every frame of a video file: ``<stem>_matting.mp4`` (and a composite with
    ``background=``, a cut-out with ``alpha='webm'|'png'``). Returns a
    :class:`fusionmat.run.video.VideoReport`. Options: see :func:`fusionmat.run.video.matte_video`."""
    from fusionmat.run.video import matte_video

    return matte_video(source, out, **options)


__all__ = ["__version__", "batch", "composite", "cutout", "load_engine", "matte", "video"]
