"""Temporal stability for video mattes: motion-gated smoothing and shot cuts.

A matting network run frame by frame flickers: where neither the picture nor the subject moves,
its matte still changes a little from frame to frame. :class:`TemporalFilter` blends each
frame's matte with the previous filtered one, but only where the picture itself did not change
(a moving edge follows the new frame at once, so it is not smeared), and resets at a cut.
"""
from __future__ import annotations

import numpy as np

STRENGTH = 0.7
"""Weight of the previous matte where the picture is still (0: no filtering)."""
MOTION_SCALE = 0.06
"""Picture change (grey level, 0..1, smoothed) at which the weight has fallen to 1/e of STRENGTH
(chosen with benchmarks/video.py; the sweep is in docs/benchmarks.md)."""
CUT_THRESHOLD = 0.2
"""Mean absolute change of a 32x32 grey thumbnail above which a new shot begins."""


def grey_thumbnail(frame: np.ndarray, size: int = 32) -> np.ndarray:
    """A size x size grey copy of an RGB frame (uint8 or float), float32 in [0, 1]."""
    import cv2

    grey = frame.mean(axis=2, dtype=np.float32)
    if frame.dtype == np.uint8:
        grey /= 255.0
    return cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)


def is_cut(previous: np.ndarray | None, current: np.ndarray, threshold: float = CUT_THRESHOLD) -> bool:
    """True when ``current`` (a :func:`grey_thumbnail`) starts a new shot after ``previous``."""
    return previous is None or float(np.abs(current - previous).mean()) > threshold


class TemporalFilter:
    """Motion-gated exponential smoothing of a sequence of mattes.

    For each pixel: ``out = w * previous_out + (1 - w) * matte`` with
    ``w = strength * exp(-motion / motion_scale)``, where ``motion`` is the smoothed absolute
    change of the picture (grey) since the previous frame. Call :meth:`reset` at a cut.
    """

    def __init__(self, strength: float = STRENGTH, motion_scale: float = MOTION_SCALE) -> None:
        if not 0.0 <= strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {strength}")
        if motion_scale <= 0:
            raise ValueError(f"motion_scale must be > 0, got {motion_scale}")
        self.strength = strength
        self.motion_scale = motion_scale
        self.reset()

    def reset(self) -> None:
        self._grey: np.ndarray | None = None
        self._matte: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
        """The filtered matte of ``frame`` (HxWx3 RGB, uint8 or float) given its raw ``matte`` (HxW float).

        The picture's motion is measured on a copy halved in each direction (it is smoothed
        anyway), which keeps the filter at a few ms per 720p frame."""
        import cv2

        h, w = frame.shape[:2]
        small = cv2.resize(frame, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        if frame.dtype == np.uint8:
            grey /= 255.0
        matte = np.asarray(matte, np.float32)
        if self.strength == 0.0 or self._grey is None or self._grey.shape != grey.shape:
            out = matte
        else:
            motion = cv2.GaussianBlur(cv2.absdiff(grey, self._grey), (0, 0), 1.0)
            weight = cv2.resize(self.strength * np.exp(-motion / self.motion_scale), (w, h),
                                interpolation=cv2.INTER_LINEAR)
            out = weight * self._matte + (1.0 - weight) * matte
        self._grey, self._matte = grey, out
        return out


FLICKER = 0.2
"""One-frame-delay threshold (MODNet's OFD): a matte value this far from both neighbours, which
agree with each other within it, is a one-frame flicker."""


def one_frame_delay(before: np.ndarray, now: np.ndarray, after: np.ndarray, threshold: float = FLICKER) -> np.ndarray:
    """``now`` with one-frame flickers replaced by the mean of its neighbours (Ke et al., MODNet):
    where ``before`` and ``after`` agree within ``threshold`` and ``now`` differs from both by more."""
    agree = np.abs(before - after) <= threshold
    spike = (np.abs(now - before) > threshold) & (np.abs(now - after) > threshold)
    return np.where(agree & spike, 0.5 * (before + after), now).astype(np.float32)


class Delayed:
    """The mattes of a sequence one frame late, each cleaned by :func:`one_frame_delay` against
    its neighbours. :meth:`push` returns the previous (frame, matte) or None; :meth:`flush`
    returns the last one (call it at the end and at a cut)."""

    def __init__(self, threshold: float = FLICKER) -> None:
        self.threshold = threshold
        self._before: np.ndarray | None = None
        self._held: tuple[np.ndarray, np.ndarray] | None = None

    def push(self, frame: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        matte = np.asarray(matte, np.float32)
        out = None
        if self._held is not None:
            held_frame, held = self._held
            cleaned = held if self._before is None else one_frame_delay(self._before, held, matte, self.threshold)
            out = (held_frame, cleaned)
            self._before = held
        self._held = (frame, matte)
        return out

    def flush(self) -> tuple[np.ndarray, np.ndarray] | None:
        out, self._held, self._before = self._held, None, None
        return out


def dtssd(pred: list[np.ndarray], truth: list[np.ndarray]) -> float:
    """Temporal coherence error (Erofeev et al. 2015), lower is better: the mean over frames of
    the root-mean-square difference between the predicted and the true change of alpha from the
    previous frame; alphas in [0, 1], the result x 100 as usually reported."""
    if len(pred) != len(truth) or len(pred) < 2:
        raise ValueError("dtSSD needs two sequences of the same length, at least 2 frames")
    total = 0.0
    for t in range(1, len(pred)):
        change = (pred[t] - pred[t - 1]) - (truth[t] - truth[t - 1])
        total += float(np.sqrt(np.mean(np.square(change, dtype=np.float64))))
    return 100.0 * total / (len(pred) - 1)
