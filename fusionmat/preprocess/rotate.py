"""Turning the subject upright: the rotation step and the estimate of the subject's tilt.

Angles are in degrees, counter-clockwise, the way the image is turned (as PIL's
``Image.rotate``): a subject leaning 20 degrees to the right (clockwise) is made upright by
turning the image +20 degrees.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from fusionmat.limits import check_pixels
from fusionmat.preprocess import Transformed, identity
from fusionmat.preprocess.detect import Detection, Detector

MIN_TILT = 10.0
"""Automatic rotation leaves tilts smaller than this alone (upright portraits vary by that much)."""
CORNER_BLUR = 0.05
"""Blur of the filled corners of a turned image, as a fraction of the canvas side."""


def split_angle(angle: float) -> tuple[int, float]:
    """(quarter turns, rest in [-45, 45)) with ``angle = 90 * quarters + rest``."""
    quarters = math.floor((angle + 45.0) / 90.0)
    return quarters % 4, angle - 90.0 * quarters


def rotate_matrix(height: int, width: int, angle: float) -> tuple[np.ndarray, int, int]:
    """2x3 affine matrix turning an HxW image by ``angle`` onto a canvas that holds all of it."""
    c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
    new_w = int(math.ceil(width * c + height * s - 1e-6))
    new_h = int(math.ceil(width * s + height * c - 1e-6))
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2.0, (height - 1) / 2.0), angle, 1.0)
    matrix[0, 2] += (new_w - width) / 2.0
    matrix[1, 2] += (new_h - height) / 2.0
    return matrix, new_h, new_w


def fill_corners(image: np.ndarray, matrix: np.ndarray, height: int, width: int) -> np.ndarray:
    """Warp ``image`` with ``matrix`` onto a ``height`` x ``width`` canvas and fill the new corners.

    The corners get the nearest edge pixels, blurred over 5 % of the canvas: black corners look
    like a dark object to a segmenter and plain repeated edges like streaks of one (the
    comparison is in docs/benchmarks.md).
    """
    size = (width, height)
    warped = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.float32), matrix, size, flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    kernel = int(CORNER_BLUR * max(height, width)) | 1
    # inside * warped + (1 - inside) * blurred, in the photo's own type (uint8 or float32)
    return cv2.blendLinear(warped, cv2.blur(warped, (kernel, kernel)), inside, 1.0 - inside)


def rotate(image: np.ndarray, angle: float) -> Transformed:
    """Turn ``image`` by ``angle`` degrees counter-clockwise on an expanded canvas.

    Whole quarter turns are exact (``np.rot90``); the rest is a bilinear rotation with the new
    corners filled (:func:`fill_corners`). The inverse turns a matte back and crops it to the
    original grid.
    """
    quarters, rest = split_angle(angle)
    if quarters == 0 and rest == 0.0:
        return Transformed(image, identity, "rotate", "upright, not turned")
    h, w = image.shape[:2]
    turned = np.ascontiguousarray(np.rot90(image, quarters))
    matrix = None
    if rest != 0.0:
        th, tw = turned.shape[:2]
        matrix, new_h, new_w = rotate_matrix(th, tw, rest)
        check_pixels(new_w, new_h, f"the image turned {angle:+.1f} degrees")
        turned = fill_corners(turned, matrix, new_h, new_w)

    def inverse(matte: np.ndarray) -> np.ndarray:
        back = matte
        if matrix is not None:
            th, tw = (h, w) if quarters % 2 == 0 else (w, h)
            back = cv2.warpAffine(np.ascontiguousarray(matte, np.float32), cv2.invertAffineTransform(matrix),
                                  (tw, th), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return np.ascontiguousarray(np.rot90(back, -quarters))

    return Transformed(turned, inverse, "rotate", f"turned {angle:+.1f} degrees")


def body_tilt(detection: Detection) -> float:
    """Clockwise lean of a person from the hip centre -> body radius keypoints, in degrees."""
    hip, head = detection.keypoints[0], detection.keypoints[1]
    dx, dy = head - hip
    return math.degrees(math.atan2(dx, -dy))


View = tuple[bool, int]
"""(mirrored, quarter turns counter-clockwise): one way the detector looks at the image."""
UPRIGHT_VIEWS: tuple[View, ...] = ((False, 0), (True, 0))
ALL_VIEWS: tuple[View, ...] = tuple((mirrored, q) for mirrored in (False, True) for q in range(4))


def read_lean(image: np.ndarray, detector: Detector, view: View, *,
              min_score: float = 0.3) -> tuple[float, float] | None:
    """(lean in degrees mapped back to the input, score) of the best person in one view; None if none."""
    mirrored, quarters = view
    seen = np.rot90(image[:, ::-1] if mirrored else image, quarters)
    found = detector.detect(np.ascontiguousarray(seen), min_score=min_score)
    if not found:
        return None
    lean = body_tilt(found[0]) + 90.0 * quarters
    return (-lean if mirrored else lean), found[0].score


def estimate_tilt(image: np.ndarray, detector: Detector, *, min_score: float = 0.3,
                  readings: dict[View, tuple[float, float] | None] | None = None) -> float | None:
    """The rotation (degrees, counter-clockwise) that makes the main person upright.

    The person detector looks at the image in all four quarter turns, as it is and mirrored;
    each view's best detection gives the body's lean, mapped back to the input and averaged on
    the circle, weighted by score. Looking from every direction makes upside-down and sideways
    subjects as easy as upright ones and averages out the detector's bias. ``readings`` already
    taken (:func:`read_lean`) are reused. None when no view finds a person.
    """
    readings = dict(readings or {})
    total = 0j
    for view in ALL_VIEWS:
        if view not in readings:
            readings[view] = read_lean(image, detector, view, min_score=min_score)
        reading = readings[view]
        if reading is not None:
            lean, score = reading
            total += score * complex(math.cos(math.radians(lean)), math.sin(math.radians(lean)))
    if total == 0:
        return None
    return math.degrees(math.atan2(total.imag, total.real))


def looks_upright(readings: dict[View, tuple[float, float] | None], *, max_lean: float = MIN_TILT,
                  min_score: float = 0.5) -> bool:
    """A quick check on the two :data:`UPRIGHT_VIEWS` that spares most photos the other six views.

    True when the person detector, on the image as it is and mirrored, finds a person both
    times (score >= ``min_score``) and their mean lean is under ``max_lean`` degrees (the
    smallest tilt that automatic rotation corrects); it changes no decision on the benchmarks.
    """
    found = [readings.get(view) for view in UPRIGHT_VIEWS]
    if any(r is None or r[1] < min_score for r in found):
        return False
    return abs(found[0][0] + found[1][0]) / 2.0 < max_lean
