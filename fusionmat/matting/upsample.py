"""Bringing an engine's matte from the grid it worked on to the photo's size."""
from __future__ import annotations

import numpy as np

from fusionmat.io.read import to_float
from fusionmat.matting.resize import resize_to

UPSAMPLE_METHODS = ("guided", "bilinear")
GUIDED_RADIUS = 1
"""Guided filter window radius, in pixels of the engine's grid."""
GUIDED_EPS = 1e-4
"""Guided filter regularisation: small, so the matte follows even faint edges of the photo
(the radius / eps sweep is in docs/benchmarks.md)."""


def upsample_matte(image: np.ndarray, matte: np.ndarray, method: str = "bilinear") -> np.ndarray:
    """``matte`` (on any grid with ``image``'s aspect) resized to ``image``'s height and width.

    Parameters
    ----------
    image : HxWx3 RGB, uint8 or float in [0, 1]; the guide for 'guided'.
    matte : hxw float in [0, 1].
    method : 'guided' (colour guided filter fitted on the small grid, applied at full size:
        see :mod:`fusionmat.matting.guided`) or 'bilinear'.

    Returns
    -------
    HxW float32 in [0, 1] (a fresh, writeable array unless ``matte`` already had the size).
    """
    if method not in UPSAMPLE_METHODS:
        raise ValueError(f"upsample method must be one of {', '.join(UPSAMPLE_METHODS)}, got {method!r}")
    h, w = image.shape[:2]
    matte = np.asarray(matte, np.float32)
    if matte.shape == (h, w):
        return matte
    if method == "bilinear" or matte.shape[0] > h or matte.shape[1] > w:
        return np.clip(resize_to(matte, h, w), 0.0, 1.0)
    from fusionmat.matting.guided import guided_upsample

    small_image = to_float(resize_to(image, *matte.shape))
    full = guided_upsample(image, small_image, matte, radius=GUIDED_RADIUS, eps=GUIDED_EPS)
    return np.clip(full, 0.0, 1.0, out=full)
