"""One resize rule for the whole package: area averaging when shrinking (anti-aliased),
bilinear interpolation when growing."""
from __future__ import annotations

import cv2
import numpy as np


def resize_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an HxW or HxWxC array to ``height`` x ``width`` (returned as is when already that size)."""
    if array.shape[:2] == (height, width):
        return array
    shrinking = height < array.shape[0] or width < array.shape[1]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(array, (width, height), interpolation=interp)


def working_size(height: int, width: int, work_size: int) -> tuple[int, int]:
    """(h, w) scaled so the long side is at most ``work_size``, aspect kept."""
    scale = min(1.0, work_size / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def stride_size(height: int, width: int, long_side: int, stride: int) -> tuple[int, int]:
    """(h, w) with the aspect ratio of ``height`` x ``width``, long side about ``long_side``, both
    rounded to multiples of ``stride`` (at least one stride): a network's input size."""
    scale = long_side / max(height, width)
    return (max(stride, round(height * scale / stride) * stride),
            max(stride, round(width * scale / stride) * stride))
