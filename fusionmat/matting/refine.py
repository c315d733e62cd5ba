"""Turn a coarse foreground probability into a soft matte.

``estimate_alpha_band`` solves closed-form matting (Levin et al., via pymatting) only in an
uncertainty band around the probability's 0.5 contour, on a working copy of the photo, and
brings the result to full size with a guided filter (edges follow the photo; see
``fusionmat.matting.guided``). The band scales with the working size (about 1 % of its long
side); the working size and band were chosen on the benchmark in docs/benchmarks.md.
"""
from __future__ import annotations

import warnings

import numpy as np

WORK_SIZE = 384
"""Long side of the grid the matting problem is solved on."""
BAND = 4
"""Half-width, in working-grid pixels, of the unknown band around the 0.5 contour."""
SOLVE_MARGIN = 2
"""Known pixels kept around the unknown band's bounding box: closed-form matting's 3x3
windows that touch an unknown pixel lie inside it, so the cropped solve is the same."""


class NoSubjectWarning(UserWarning):
    """The engine found no foreground: the matte is all zero."""


def _has_subject(prob: np.ndarray) -> bool:
    """True when some pixel is foreground; otherwise warn (NoSubjectWarning) and return False."""
    if (prob > 0.5).any():
        return True
    warnings.warn("no person found; the matte is empty", NoSubjectWarning, stacklevel=3)
    return False


def trimap_from_probability(prob: np.ndarray, band: int) -> np.ndarray:
    """Trimap (1 fg, 0 bg, 0.5 unknown) from a probability map.

    Pixels farther than ``band`` pixels (chessboard distance) from the 0.5 contour are
    known; the rest are unknown.

    Parameters
    ----------
    prob : HxW float in [0, 1]
    band : half-width of the unknown band, in pixels (>= 1).

    Returns
    -------
    HxW float64 trimap.
    """
    import cv2

    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    fg = cv2.erode((prob > 0.5).astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE)
    bg = cv2.erode((prob <= 0.5).astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE)
    trimap = np.full(prob.shape, 0.5)
    trimap[fg > 0] = 1.0
    trimap[bg > 0] = 0.0
    return trimap


def estimate_alpha_band(
    image: np.ndarray, prob: np.ndarray, *, work_size: int = WORK_SIZE, band: int = BAND
) -> np.ndarray:
    """Closed-form matting in the uncertainty band of ``prob``, guided-upsampled to full size.

    Parameters
    ----------
    image : HxWx3 RGB, uint8 or float32 in [0, 1] (a uint8 photo is never converted at full size).
    prob : HxW float32 in [0, 1], foreground probability on the image's grid.
    work_size : long side of the grid the matting problem is solved on.
    band : half-width of the unknown band on that grid, in pixels.

    Returns
    -------
    HxW float32 in [0, 1]. All zero, with a NoSubjectWarning, when nothing is foreground.
    """
    from fusionmat.io.read import to_float
    from fusionmat.matting.guided import guided_upsample
    from fusionmat.matting.resize import resize_to, working_size

    h, w = prob.shape
    if not _has_subject(prob):
        return np.zeros((h, w), np.float32)
    sh, sw = working_size(h, w, work_size)
    small_image = np.clip(to_float(resize_to(image, sh, sw)), 0.0, 1.0)
    small_prob = resize_to(prob, sh, sw)
    trimap = trimap_from_probability(small_prob, band)
    if (trimap == 1.0).any() and (trimap == 0.0).any() and (trimap == 0.5).any():
        alpha = solve_in_band(small_image, trimap)
    else:  # nothing to solve for: the whole frame is one class or all unknown
        alpha = np.where(trimap == 0.5, small_prob, trimap).astype(np.float32)
    if (sh, sw) == (h, w):
        return np.clip(alpha, 0.0, 1.0)
    full = guided_upsample(image, small_image, alpha)
    return np.clip(full, 0.0, 1.0, out=full)  # in place: no second full-size matte


def solve_in_band(image: np.ndarray, trimap: np.ndarray) -> np.ndarray:
    """Closed-form matting (pymatting) on the bounding box of the trimap's unknown pixels.

    Outside the box the trimap's known values are returned; the result equals solving on
    the whole image (see SOLVE_MARGIN). HxW float32.
    """
    from pymatting import estimate_alpha_cf

    ys, xs = np.nonzero(trimap == 0.5)
    h, w = trimap.shape
    y0, y1 = max(0, ys.min() - SOLVE_MARGIN), min(h, ys.max() + 1 + SOLVE_MARGIN)
    x0, x1 = max(0, xs.min() - SOLVE_MARGIN), min(w, xs.max() + 1 + SOLVE_MARGIN)
    alpha = trimap.astype(np.float32)
    box = (slice(y0, y1), slice(x0, x1))
    alpha[box] = estimate_alpha_cf(image[box].astype(np.float64), trimap[box].astype(np.float64))
    return alpha


def no_refinement(image: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """No refinement: the engine's output as it is (clipped to [0, 1])."""
    _has_subject(prob)
    return np.clip(prob, 0.0, 1.0).astype(np.float32)


def preload(method: str) -> None:
    """Import what ``method`` needs ahead of the first image.

    pymatting loads its compiled kernels when imported (0.6-0.8 s); a batch does that while
    loading, so the first image is not the slow one.
    """
    if method == "closed-form":
        import pymatting  # noqa: F401


REFINERS = {"closed-form": estimate_alpha_band, "none": no_refinement}
REFINE_CHOICES = ("auto", *REFINERS)
"""What --refine accepts: 'auto' (the engine's own choice) or a key of REFINERS."""
