"""The whole per-image chain: check the image, run the engine, refine the result."""
from __future__ import annotations

import numpy as np

from fusionmat.engines.base import Engine
from fusionmat.read import check_image
from fusionmat.refine import REFINE_CHOICES, REFINERS


def matte_image(image: np.ndarray, engine: Engine, *, refine: str = "auto") -> np.ndarray:
    """Alpha matte of one image with a loaded engine.

    Parameters
    ----------
    image : HxWx3 RGB, uint8 or float in [0, 1].
    engine : a loaded :class:`~fusionmat.engines.base.Engine`.
    refine : 'auto' (the engine's default), 'closed-form' or 'none'.

    Returns
    -------
    HxW float32 in [0, 1], aligned with ``image``.
    """
    rgb = check_image(image)
    method = engine.refine if refine == "auto" else refine
    if method not in REFINERS:
        raise ValueError(f"refine must be one of {', '.join(REFINE_CHOICES)}, got {refine!r}")
    prob = engine.predict(rgb)
    return REFINERS[method](rgb, prob)
