"""Undoing a squash: resize an image to its true aspect ratio before inference, and back after."""
from __future__ import annotations

import numpy as np

from fusionmat.limits import check_pixels
from fusionmat.matting.resize import resize_to
from fusionmat.preprocess import Transformed, identity

MAX_RATIO = 20.0
"""Longest side over shortest of an aspect ratio that is taken: no photo is squashed further."""


def parse_ratio(text: str) -> tuple[float, float]:
    """'3:4' or '640x960' -> (width, height); raises ValueError for anything else."""
    try:
        w, h = (float(p) for p in text.lower().replace("x", ":").split(":"))
    except ValueError:
        raise ValueError(f"aspect must be none, W:H (e.g. 3:4) or WxH (e.g. 640x960), got {text!r}") from None
    if not (0 < w < float("inf") and 0 < h < float("inf")):
        raise ValueError(f"aspect needs two positive finite numbers, got {text!r}")
    if max(w / h, h / w) > MAX_RATIO:
        raise ValueError(f"aspect {text!r} is more than {MAX_RATIO:g}:1; no photo is squashed that far")
    return w, h


def restore_aspect(image: np.ndarray, ratio: tuple[float, float]) -> Transformed:
    """Stretch one side of ``image`` so that width / height equals ``ratio`` (width, height).

    Only ever enlarges (no detail is thrown away); the inverse resizes a matte back to the
    input's size.
    """
    h, w = image.shape[:2]
    target = ratio[0] / ratio[1]
    if target >= w / h:
        new_h, new_w = h, int(round(h * target))
    else:
        new_h, new_w = int(round(w / target)), w
    if (new_h, new_w) == (h, w):
        return Transformed(image, identity, "aspect", "aspect ratio already right")
    check_pixels(new_w, new_h, f"the image with its aspect ratio restored to {ratio[0]:g}:{ratio[1]:g}")

    def inverse(matte: np.ndarray) -> np.ndarray:
        return resize_to(matte, h, w)

    return Transformed(resize_to(image, new_h, new_w), inverse, "aspect", f"resized to {new_w}x{new_h}")
