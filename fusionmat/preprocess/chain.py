"""The preprocessing chain: aspect -> rotate -> crop, with automatic settings from a detector.

Order: the aspect ratio is restored first (a squashed image is not a rotated copy of the
scene, so the tilt is only meaningful after it), then the subject is turned upright (the
person detector finds people best upright), then the frame is cropped to the people.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fusionmat.io.read import to_float
from fusionmat.matting.resize import resize_to, working_size
from fusionmat.preprocess import Transformed
from fusionmat.preprocess.aspect import parse_ratio, restore_aspect
from fusionmat.preprocess.box import Box
from fusionmat.preprocess.crop import crop, subject_box
from fusionmat.preprocess.rotate import (
    MIN_TILT,
    UPRIGHT_VIEWS,
    estimate_tilt,
    looks_upright,
    read_lean,
    rotate,
    split_angle,
)

AUTO, NONE = "auto", "none"


@dataclass(frozen=True)
class Settings:
    """What each step does: 'auto', 'none', or an explicit value.

    rotate : 'auto', 'none' or an angle in degrees (counter-clockwise).
    crop : 'auto', 'none' or an (x, y, width, height) box on the upright image.
    aspect : 'none' or the true (width, height) ratio of the scene.
    """

    rotate: str | float = AUTO
    crop: str | Box = AUTO
    aspect: str | tuple[float, float] = NONE


NOTHING = Settings(rotate=NONE, crop=NONE, aspect=NONE)


def parse_rotate(text: str) -> str | float:
    """'auto', 'none' or an angle in degrees ('-90', '12.5')."""
    if text in (AUTO, NONE):
        return text
    try:
        angle = float(text)
    except ValueError:
        raise ValueError(f"rotate must be auto, none or an angle in degrees, got {text!r}") from None
    if not math.isfinite(angle):
        raise ValueError(f"rotate must be a finite angle in degrees, got {text!r}")
    return angle


def parse_crop(text: str) -> str | Box:
    """'auto', 'none' or 'X,Y,W,H' in pixels (W and H positive)."""
    if text in (AUTO, NONE):
        return text
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"crop must be auto, none or X,Y,W,H in pixels, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"crop width and height must be positive, got {text!r}")
    return Box(x, y, w, h)


def parse_aspect(text: str) -> str | tuple[float, float]:
    """'none' or the scene's true ratio as 'W:H' (3:4) or 'WxH' (640x960)."""
    return NONE if text == NONE else parse_ratio(text)


def auto_angle(tilt: float | None, min_tilt: float = MIN_TILT) -> float:
    """The turn to apply for an estimated tilt: whole quarter turns always, the rest only if large."""
    if tilt is None:
        return 0.0
    quarters, rest = split_angle(tilt)
    angle = 90.0 * quarters + (rest if abs(rest) >= min_tilt else 0.0)
    return angle - 360.0 if angle > 180.0 else angle


DETECT_SIDE = 768
"""Detectors look at a copy with this long side (their inputs are 128..224 px; tiles of 60 %
still have more pixels than that), which keeps a 12 MP photo's detection as fast as a 1 MP one's."""


def detection_view(image: np.ndarray, long_side: int = DETECT_SIDE) -> tuple[np.ndarray, float]:
    """A float32 copy of ``image`` (uint8 or float) no longer than ``long_side``, and the factor
    back to full size (>= 1)."""
    h, w = image.shape[:2]
    sh, sw = working_size(h, w, long_side)
    return to_float(resize_to(image, sh, sw)), w / sw


def scaled_subject_box(image: np.ndarray, detector, view: tuple[np.ndarray, float] | None = None) -> Box | None:
    """:func:`~fusionmat.preprocess.crop.subject_box` found on the detection view, in full-size pixels.

    ``view`` is ``detection_view(image)`` when the caller already has it.
    """
    small, factor = view if view is not None else detection_view(image)
    box = subject_box(small, detector)
    if box is None:
        return None
    x, y, w, h = box
    return Box(int(x * factor), int(y * factor), int(np.ceil(w * factor)), int(np.ceil(h * factor)))


class Preprocessor:
    """Runs the chain with one set of :class:`Settings`; loads the person detector once, if needed.

    Parameters
    ----------
    settings : what each step does.
    threads : CPU threads for the detector.
    detectors : already loaded detectors to share ('person', 'face'); missing ones are loaded.
    tilt : False: rotate 'auto' makes quarter turns only (for engines that matte the corners a
        smaller turn fills in: :attr:`fusionmat.engines.base.Engine.tilt`).
    """

    def __init__(self, settings: Settings = Settings(), *, threads: int | None = None,
                 detectors: dict | None = None, tilt: bool = True) -> None:
        from fusionmat.preprocess.detect import FACE_FULL, PERSON, Detector

        self.settings = settings
        self.tilt = tilt
        self.detectors = detectors if detectors is not None else {}
        wanted = {"person": PERSON} if settings.rotate == AUTO else {}
        if settings.crop == AUTO:
            wanted["face"] = FACE_FULL
        for key, spec in wanted.items():
            if key not in self.detectors:
                self.detectors[key] = Detector(spec, threads=threads)

    def steps(self, image: np.ndarray) -> list[Transformed]:
        """Every step's result in order; the last one's image is what the engine sees."""
        return self._run(image)[0]

    def decide(self, image: np.ndarray) -> Settings:
        """The automatic settings made explicit for ``image`` (the angle turned, the box cropped),
        so a run of similar images (the frames of one shot) gets the same steps without detection."""
        return self._run(image)[1]

    def _run(self, image: np.ndarray) -> tuple[list[Transformed], Settings]:
        s = self.settings
        done: list[Transformed] = []
        current = image
        view = None  # detection view of ``current``, made once and shared by rotate and crop
        angle: str | float = NONE
        box: str | Box = NONE
        if s.aspect != NONE:
            done.append(restore_aspect(current, s.aspect))
            current = done[-1].image
        if s.rotate != NONE:
            if s.rotate == AUTO:
                view, person = detection_view(current), self.detectors["person"]
                readings = {v: read_lean(view[0], person, v) for v in UPRIGHT_VIEWS}
                tilt = None if looks_upright(readings) else estimate_tilt(view[0], person, readings=readings)
                angle = auto_angle(tilt, MIN_TILT if self.tilt else math.inf)
            else:
                angle = float(s.rotate)
            done.append(rotate(current, angle))
            if done[-1].changed:
                current, view = done[-1].image, None
        if s.crop != NONE:
            found = scaled_subject_box(current, self.detectors["face"], view) if s.crop == AUTO else s.crop
            if found is not None:
                box = found
                done.append(crop(current, box))
        return done, Settings(rotate=angle, crop=box, aspect=s.aspect)


def invert(steps: list[Transformed]) -> Callable[[np.ndarray], np.ndarray]:
    """One function mapping a matte of the last step's image back onto the original grid."""

    def inverse(matte: np.ndarray) -> np.ndarray:
        for step in reversed(steps):
            matte = step.inverse(matte)
        return matte

    return inverse


def settings_of(rotate="auto", crop="auto", aspect="none") -> Settings:
    """:class:`Settings` from values given as text (as on the command line) or as values; a bad
    value raises ValueError saying which."""
    parsed = {}
    for name, parse, value in (("rotate", parse_rotate, rotate), ("crop", parse_crop, crop),
                               ("aspect", parse_aspect, aspect)):
        parsed[name] = parse(value) if isinstance(value, str) else value
    return Settings(**parsed)


def build_preprocessor(rotate="auto", crop="auto", aspect="none", *, threads: int | None = None,
                       detectors: dict | None = None, tilt: bool = True) -> Preprocessor | None:
    """A :class:`Preprocessor` for :func:`settings_of` the values; None when every step is off."""
    settings = settings_of(rotate, crop, aspect)
    return None if settings == NOTHING else Preprocessor(settings, threads=threads, detectors=detectors, tilt=tilt)
