"""Mask controls applied to a finished matte, in this order: a hard threshold, erosion or
dilation of the edge, feathering; then trimming every output to the subject's box.

Declared once (:data:`OPTIONS`): the command line (``--threshold`` ...), the server's request
parameters and the library take them from here.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from fusionmat.preprocess.box import Box

TRIM_FLOOR = 0.05
"""Matte values above this are the subject when trimming (what is below is invisible)."""


@dataclass(frozen=True)
class MaskSettings:
    """threshold : alpha at or above it becomes 1, below it 0 (a hard mask); None: soft.
    erode, dilate : pixels the subject's edge moves in or out (an elliptical kernel).
    feather : pixels over which the edge is softened (a Gaussian blur of sigma feather / 2).
    trim : crop every output to the subject's box plus this margin in pixels; None: no trim."""

    threshold: float | None = None
    erode: int = 0
    dilate: int = 0
    feather: float = 0.0
    trim: int | None = None

    @property
    def changes_matte(self) -> bool:
        return self.threshold is not None or bool(self.erode or self.dilate or self.feather)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:  # also refuses nan
        raise ValueError
    return value


def _pixels(most: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = float(text)
        if not (value == int(value) and 0 <= value <= most):
            raise ValueError
        return int(value)

    return parse


def _pixels_float(most: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not 0.0 <= value <= most:
            raise ValueError
        return value

    return parse


WHOLE_500 = "a whole number of pixels from 0 to 500"
OPTIONS: dict[str, tuple[Callable[[str], object], str, str, str]] = {
    "threshold": (_fraction, "T", "a number between 0 and 1, both excluded",
                  "a hard mask: alpha at or above T becomes 1, the rest 0"),
    "erode": (_pixels(500), "PX", WHOLE_500, "move the subject's edge in by PX pixels"),
    "dilate": (_pixels(500), "PX", WHOLE_500, "move the subject's edge out by PX pixels"),
    "feather": (_pixels_float(500.0), "PX", "a number of pixels from 0 to 500", "soften the edge over about PX pixels"),
    "trim": (_pixels(10000), "MARGIN", "a whole number of pixels from 0 to 10000",
             "crop every output to the subject's box plus MARGIN pixels (default 0; photos only)"),
}
"""Each mask option, in the order it applies: its parser from text (ValueError when bad),
metavar, what it takes, help."""


def parse_mask(given: Mapping[str, str | None]) -> MaskSettings | None:
    """The settings from option texts (None or absent: not given); None when nothing is asked.
    ValueError naming the option and what it takes."""
    values = {}
    for name, text in given.items():
        if text is None or name not in OPTIONS:
            continue
        parse, _, takes, _ = OPTIONS[name]
        try:
            values[name] = parse(str(text).strip())
        except (ValueError, OverflowError):
            raise ValueError(f"{name} must be {takes}, got {text!r}") from None
    return MaskSettings(**values) if values else None


def apply_mask(alpha: np.ndarray, settings: MaskSettings) -> np.ndarray:
    """``alpha`` (HxW float32 in [0, 1]) thresholded, eroded / dilated, feathered, in that order."""
    import cv2

    out = np.asarray(alpha, np.float32)
    if settings.threshold is not None:
        out = (out >= settings.threshold).astype(np.float32)
    for size, operation in ((settings.erode, cv2.erode), (settings.dilate, cv2.dilate)):
        if size:
            kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * size + 1, 2 * size + 1))
            out = operation(out, kernel, borderType=cv2.BORDER_REPLICATE)
    if settings.feather:
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=settings.feather / 2.0, borderType=cv2.BORDER_REPLICATE)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def subject_box(alpha: np.ndarray, margin: int = 0) -> Box | None:
    """The box of every pixel above :data:`TRIM_FLOOR`, grown by ``margin`` and kept inside the
    image; None for an empty matte."""
    inside = alpha > TRIM_FLOOR
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        return None
    h, w = alpha.shape
    return Box.from_corners(cols[0] - margin, rows[0] - margin, cols[-1] + 1 + margin,
                            rows[-1] + 1 + margin).clipped(h, w)


def masked(rgb: np.ndarray, alpha: np.ndarray, settings: MaskSettings | None) -> tuple[np.ndarray, np.ndarray]:
    """(photo, matte) as the outputs show them: the matte through :func:`apply_mask`, both cropped
    to :func:`subject_box` with ``trim`` (not for an empty matte)."""
    if settings is None:
        return rgb, alpha
    if settings.changes_matte:
        alpha = apply_mask(alpha, settings)
    if settings.trim is not None and (box := subject_box(alpha, settings.trim)) is not None:
        rgb, alpha = rgb[box.slices()], alpha[box.slices()]
    return rgb, alpha
