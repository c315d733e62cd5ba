"""Foreground colour estimation, so cut-outs and composites carry no old background in the hair."""
from __future__ import annotations

import numpy as np


def prepare() -> float:
    """Compile (or load from numba's cache) pymatting's foreground kernels on a tiny image.

    The first call in a fresh environment takes 40-50 s on a 2-core machine (numba compiles them
    and caches the result in pymatting's folder); later processes load them in about 0.6 s.
    ``fusionmat weights fetch`` calls this, so a user's first cut-out does not stall. Returns
    the seconds it took."""
    import time

    start = time.perf_counter()
    rng = np.random.default_rng(0)
    estimate_layers(rng.random((32, 32, 3), dtype=np.float32), rng.random((32, 32), dtype=np.float32))
    return time.perf_counter() - start


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours of ``image`` under ``alpha``; see :func:`estimate_layers`."""
    return estimate_layers(image, alpha)[0]


def estimate_layers(image: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground colours F with ``image ~ alpha*F + (1-alpha)*B`` (pymatting's multilevel method).

    Parameters
    ----------
    image : HxWx3 RGB, uint8 or float32 in [0, 1]
    alpha : HxW float32 in [0, 1]

    Returns
    -------
    F and B, each HxWx3 float32 in [0, 1]
    """
    from pymatting import estimate_foreground_ml

    if alpha.shape != image.shape[:2]:
        raise ValueError(f"alpha must have shape {image.shape[:2]}, got {alpha.shape}")
    from fusionmat.io.read import to_float

    # pymatting works in float32 whatever it is given: a float64 copy would only cost memory
    fg, bg = estimate_foreground_ml(to_float(image), alpha.astype(np.float32, copy=False), return_background=True)
    fg, bg = fg.astype(np.float32, copy=False), bg.astype(np.float32, copy=False)
    return np.clip(fg, 0.0, 1.0, out=fg), np.clip(bg, 0.0, 1.0, out=bg)
