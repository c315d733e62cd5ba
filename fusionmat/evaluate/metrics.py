"""Standard alpha-matting error measures: SAD, MSE, Grad and Conn.

All functions take two mattes of the same shape, float in [0, 1], and an
optional boolean ``mask`` that selects the pixels counted (the unknown region
of a trimap, as the Deep Image Matting benchmark does); without a mask the
whole image counts.  SAD, Grad and Conn are divided by 1000 as is usual.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage


def _check_pair(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None):
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(f"pred and gt must be 2-D mattes of one shape, got {pred.shape} and {gt.shape}")
    if mask is None:
        mask = np.ones(pred.shape, dtype=bool)
    else:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != pred.shape:
            raise ValueError(f"mask must have shape {pred.shape}, got {mask.shape}")
    return pred, gt, mask


def sad(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Sum of absolute differences, / 1000."""
    pred, gt, mask = _check_pair(pred, gt, mask)
    return float(np.abs(pred - gt)[mask].sum() / 1000.0)


def mse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean squared error over the counted pixels (0 when none are counted)."""
    pred, gt, mask = _check_pair(pred, gt, mask)
    n = int(mask.sum())
    return float(((pred - gt) ** 2)[mask].sum() / n) if n else 0.0


@lru_cache(maxsize=4)
def gaussian_derivative_kernels(sigma: float = 1.4) -> tuple[np.ndarray, np.ndarray]:
    """First-order Gaussian derivative filters (d/dx, d/dy), each of unit L2 norm.

    The half size follows the usual ``gaussgradient`` rule: the Gaussian is cut
    where it falls below 1 % of its peak-normalised value.
    """
    epsilon = 1e-2
    half = int(np.ceil(sigma * np.sqrt(-2.0 * np.log(np.sqrt(2.0 * np.pi) * sigma * epsilon))))
    ax = np.arange(-half, half + 1, dtype=np.float64)
    y, x = np.meshgrid(ax, ax, indexing="ij")
    gauss = np.exp(-(x**2 + y**2) / (2.0 * sigma**2))
    dx = x * gauss  # correlating with it gives d/dx (positive on a rising ramp)
    dx /= np.sqrt((dx**2).sum())
    return dx, dx.T.copy()


def _gradient_magnitude(alpha: np.ndarray, sigma: float) -> np.ndarray:
    kx, ky = gaussian_derivative_kernels(sigma)
    gx = ndimage.correlate(alpha, kx, mode="nearest")
    gy = ndimage.correlate(alpha, ky, mode="nearest")
    return np.sqrt(gx**2 + gy**2)


def grad(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None, *, sigma: float = 1.4) -> float:
    """Gradient error: sum of squared differences of gradient magnitudes, / 1000."""
    pred, gt, mask = _check_pair(pred, gt, mask)
    diff = _gradient_magnitude(pred, sigma) - _gradient_magnitude(gt, sigma)
    return float((diff**2)[mask].sum() / 1000.0)


def _largest_component(binary: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(binary)  # 4-connectivity
    if count == 0:
        return np.zeros_like(binary)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def conn(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None, *, step: float = 0.1) -> float:
    """Connectivity error (Rhemann et al. 2009), / 1000.

    For each threshold the largest 4-connected region where both mattes exceed
    it is taken as the source; a pixel's level ``l`` is the last threshold at
    which it was still connected to the source.  The error compares
    ``phi = 1 - d * (d >= 0.15)`` with ``d = alpha - l`` for both mattes.
    """
    pred, gt, mask = _check_pair(pred, gt, mask)
    thresholds = np.arange(0.0, 1.0 + step / 2, step)
    level = np.full(pred.shape, -1.0)
    for i in range(1, len(thresholds)):
        source = _largest_component((pred >= thresholds[i]) & (gt >= thresholds[i]))
        newly_lost = (level == -1) & ~source
        level[newly_lost] = thresholds[i - 1]
    level[level == -1] = 1.0
    d_pred = pred - level
    d_gt = gt - level
    phi_pred = 1.0 - d_pred * (d_pred >= 0.15)
    phi_gt = 1.0 - d_gt * (d_gt >= 0.15)
    return float(np.abs(phi_pred - phi_gt)[mask].sum() / 1000.0)


METRICS = {"sad": sad, "mse": mse, "grad": grad, "conn": conn}


def all_metrics(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> dict[str, float]:
    """Every metric of :data:`METRICS` for one pair, as a dict name -> value."""
    return {name: fn(pred, gt, mask) for name, fn in METRICS.items()}


def soft_band_error(image: np.ndarray, reference: np.ndarray, alpha: np.ndarray,
                    low: float = 0.02, high: float = 0.98) -> float:
    """Mean absolute difference of two images where ``low < alpha < high`` (hair, soft edges)."""
    band = (alpha > low) & (alpha < high)
    if not band.any():
        return 0.0
    return float(np.abs(np.asarray(image, np.float32) - reference)[band].mean())
