"""Edge-aware upsampling of a matte with a colour guided filter.

The guided filter (He, Sun and Tang, ECCV 2010) models the output, in every small window, as
a linear function of the guide image's colour: ``q = a . I + b``. Fitting ``a`` and ``b`` on
a small copy of the photo and applying them to the full-size photo (the "fast guided filter",
He and Sun 2015) carries edges the small matte could not resolve: the matte's edge follows
the photo's edge instead of a bilinear ramp.

Only box filters and per-pixel 3x3 solves are needed; the full-size step runs in bands of
rows, so a 12 MP photo never needs a full-size float copy of the coefficients.
"""
from __future__ import annotations

import cv2
import numpy as np

BAND_ROWS = 512
"""Rows of the full-size output computed at a time."""


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges reflected."""
    size = 2 * radius + 1
    return cv2.boxFilter(x, -1, (size, size), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_coefficients(guide: np.ndarray, source: np.ndarray, radius: int, eps: float
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Window-averaged linear coefficients (a, b) with ``source ~ a . guide + b``.

    Parameters
    ----------
    guide : HxWx3 float in [0, 1], the colour image.
    source : HxW float, the map to be filtered (a matte).
    radius : window radius in pixels.
    eps : regularisation; larger values smooth more across weak edges.

    Returns
    -------
    a : HxWx3 float32, b : HxW float32.
    """
    guide = guide.astype(np.float32, copy=False)
    source = source.astype(np.float32, copy=False)
    mean_i = _box(guide, radius)
    mean_p = _box(source, radius)
    cov_ip = _box(guide * source[:, :, None], radius) - mean_i * mean_p[:, :, None]

    def cov(c1: int, c2: int) -> np.ndarray:
        return _box(guide[:, :, c1] * guide[:, :, c2], radius) - mean_i[:, :, c1] * mean_i[:, :, c2]

    rr, rg, rb = cov(0, 0) + eps, cov(0, 1), cov(0, 2)
    gg, gb, bb = cov(1, 1) + eps, cov(1, 2), cov(2, 2) + eps
    # the inverse of the symmetric 3x3 covariance, by cofactors, for every pixel at once
    inv_rr, inv_rg, inv_rb = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
    inv_gg, inv_gb, inv_bb = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
    det = rr * inv_rr + rg * inv_rg + rb * inv_rb
    c_r, c_g, c_b = cov_ip[:, :, 0], cov_ip[:, :, 1], cov_ip[:, :, 2]
    a = np.dstack([inv_rr * c_r + inv_rg * c_g + inv_rb * c_b,
                   inv_rg * c_r + inv_gg * c_g + inv_gb * c_b,
                   inv_rb * c_r + inv_gb * c_g + inv_bb * c_b]) / det[:, :, None]
    b = mean_p - np.einsum("hwc,hwc->hw", a, mean_i)
    return _box(a, radius), _box(b, radius)


def resize_rows(small: np.ndarray, height: int, width: int, top: int, bottom: int) -> np.ndarray:
    """Rows ``top:bottom`` of ``small`` bilinearly resized to ``height`` x ``width``.

    Equal to ``cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)[top:bottom]``
    (pixel centres aligned, edges replicated) without making the whole resized array.
    """
    sy, sx = small.shape[0] / height, small.shape[1] / width
    to_source = np.array([[sx, 0.0, 0.5 * sx - 0.5],
                          [0.0, sy, sy * top + 0.5 * sy - 0.5]])
    return cv2.warpAffine(small, to_source, (width, bottom - top),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


def guided_upsample(image: np.ndarray, small_image: np.ndarray, small_source: np.ndarray, *,
                    radius: int = 1, eps: float = 1e-4) -> np.ndarray:
    """Upsample ``small_source`` to ``image``'s size, edges following ``image``.

    Parameters
    ----------
    image : HxWx3 float in [0, 1] (or uint8), the full-size guide.
    small_image : hxwx3 float in [0, 1], ``image`` resized to the source's grid.
    small_source : hxw float, the map to upsample (a matte solved on the small grid).
    radius, eps : the guided filter's window radius (on the small grid) and regularisation.

    Returns
    -------
    HxW float32 (not clipped).
    """
    a, b = guided_coefficients(small_image, small_source, radius, eps)
    height, width = image.shape[:2]
    scale = 1.0 / 255.0 if image.dtype == np.uint8 else 1.0
    out = np.empty((height, width), np.float32)
    for top in range(0, height, BAND_ROWS):
        bottom = min(height, top + BAND_ROWS)
        band_a = resize_rows(a, height, width, top, bottom)
        band_b = resize_rows(b, height, width, top, bottom)
        rows = image[top:bottom].astype(np.float32) * np.float32(scale)
        out[top:bottom] = np.einsum("hwc,hwc->hw", band_a, rows) + band_b
    return out
