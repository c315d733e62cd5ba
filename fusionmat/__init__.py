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
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from fusionmat.engines.base import Engine

_default_engine = None
_preprocessors: dict = {}


def load_engine(name: str | None = None, **options):
    """Build an engine by name ('modnet', the default; 'selfie'; 'latefusion'); see :mod:`fusionmat.engines`."""
    from fusionmat.engines import DEFAULT_ENGINE, load_engine as _load

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
    HxW float32 in [0, 1], aligned with the (EXIF-corrected) image.
    """
    global _default_engine
    import numpy as np

    from fusionmat.matting.pipeline import matte_image
    from fusionmat.io.read import read_image

    if isinstance(image, (str, os.PathLike)):
        image = read_image(image, dtype=np.uint8)  # 8-bit all the way: a quarter of the memory
    if engine is None:
        if _default_engine is None:
            _default_engine = load_engine()
        engine = _default_engine
    from fusionmat.preprocess.chain import NOTHING, Preprocessor, Settings

    settings = Settings(rotate=rotate, crop=crop, aspect=aspect)
    if settings not in _preprocessors:
        _preprocessors[settings] = None if settings == NOTHING else Preprocessor(settings)
    return matte_image(image, engine, refine=refine, preprocessor=_preprocessors[settings])


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
