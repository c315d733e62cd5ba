"""Foreground colour estimation, so cut-outs and composites carry no old background in the hair."""
from __future__ import annotations

import numpy as np


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours F with ``image ~ alpha*F + (1-alpha)*B`` (pymatting's multilevel method).

    Parameters
    ----------
    image : HxWx3 float32 in [0, 1]
    alpha : HxW float32 in [0, 1]

    Returns
    -------
    HxWx3 float32 in [0, 1]
    """
    from pymatting import estimate_foreground_ml

    if alpha.shape != image.shape[:2]:
        raise ValueError(f"alpha must have shape {image.shape[:2]}, got {alpha.shape}")
    fg = estimate_foreground_ml(image.astype(np.float64), alpha.astype(np.float64))
    return np.clip(fg, 0.0, 1.0).astype(np.float32)
