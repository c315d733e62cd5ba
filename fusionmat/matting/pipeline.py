"""The whole per-image chain: check the image, preprocess, run the engine, bring its matte to
full size, map it back, refine."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fusionmat.engines.base import Engine
from fusionmat.io.read import checked_rgb
from fusionmat.matting.refine import REFINE_CHOICES, REFINERS
from fusionmat.matting.upsample import upsample_matte
from fusionmat.preprocess import Transformed


def refine_method(engine: Engine, refine: str = "auto") -> str:
    """The refinement to use: the engine's own for 'auto'; ValueError for an unknown name."""
    method = engine.refine if refine == "auto" else refine
    if method not in REFINERS:
        raise ValueError(f"refine must be one of {', '.join(REFINE_CHOICES)}, got {refine!r}")
    return method


@dataclass(frozen=True)
class EnginePass:
    """What the engine saw and what it returned, before its matte is brought back to the photo.

    seen : the image after preprocessing (the guide for upsampling).
    small : the engine's output on its own grid (``engine.input_size`` of ``seen``).
    steps : the preprocessing steps taken (their inverses map the matte back).
    upsample : the engine's upsampling method.
    """

    seen: np.ndarray
    small: np.ndarray
    steps: list[Transformed]
    upsample: str

    @property
    def found(self) -> bool:
        """True when some pixel is foreground (the same answer as on the full-size matte).

        Engines decide whether a person is there (faces and bodies detected on the person
        segmentation, :class:`~fusionmat.matting.people.PersonCheck`) and return all zero when
        nobody is, so this is False for a photo without a person."""
        return bool((self.small > 0.5).any())


def run_engine(image: np.ndarray, engine: Engine, *, preprocessor=None,
               on_steps: Callable[[list[Transformed]], None] | None = None) -> EnginePass:
    """Preprocessing and the engine: the part of :func:`coarse_probability` that needs the models."""
    rgb = checked_rgb(image)
    steps = preprocessor.steps(rgb) if preprocessor is not None else []
    if on_steps is not None:
        on_steps(steps)
    seen = steps[-1].image if steps else rgb
    return EnginePass(seen, engine.predict(seen), steps, engine.upsample)


def full_size(engine_pass: EnginePass) -> np.ndarray:
    """The engine's matte brought to full size and mapped back onto the photo's grid (HxW float32 in [0, 1])."""
    from fusionmat.preprocess.chain import invert

    matte = upsample_matte(engine_pass.seen, engine_pass.small, engine_pass.upsample)
    prob = np.asarray(invert(engine_pass.steps)(matte), np.float32)
    if not prob.flags.writeable or prob is engine_pass.small:
        prob = prob.copy()
    return np.clip(prob, 0.0, 1.0, out=prob)  # in place: a fresh array of ours


def coarse_probability(image: np.ndarray, engine: Engine, *, preprocessor=None,
                       on_steps: Callable[[list[Transformed]], None] | None = None) -> np.ndarray:
    """The engine's output for ``image`` (after preprocessing), brought to full size with the
    engine's upsampling and mapped back onto the image's grid.

    HxW float32 in [0, 1]; see :func:`matte_image` for the parameters.
    """
    return full_size(run_engine(image, engine, preprocessor=preprocessor, on_steps=on_steps))


def matte_image(image: np.ndarray, engine: Engine, *, refine: str = "auto", preprocessor=None,
                on_steps: Callable[[list[Transformed]], None] | None = None) -> np.ndarray:
    """Alpha matte of one image with a loaded engine.

    Parameters
    ----------
    image : HxWx3 RGB, uint8 (the lightest: a 12 MP photo is 36 MB) or float in [0, 1].
    engine : a loaded :class:`~fusionmat.engines.base.Engine`.
    refine : 'auto' (the engine's default), 'closed-form' or 'none'.
    preprocessor : a :class:`~fusionmat.preprocess.chain.Preprocessor` (rotate, crop, aspect)
        or None for none. The engine runs on the preprocessed image; its output is mapped
        back to the input's grid and refined there, on the untouched pixels.
    on_steps : called with the preprocessing steps taken (to save or report them).

    Returns
    -------
    HxW float32 in [0, 1], aligned with ``image``.
    """
    method = refine_method(engine, refine)
    rgb = checked_rgb(image)  # a uint8 photo stays uint8: steps convert only their small copies
    prob = coarse_probability(rgb, engine, preprocessor=preprocessor, on_steps=on_steps)
    return REFINERS[method](rgb, prob)
