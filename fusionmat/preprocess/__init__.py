"""Invertible preprocessing: restore the aspect ratio, turn the subject upright, crop to it.

Each step is a pure function ``forward(image, ...) -> Transformed``: the new image, and an
``inverse`` that maps a matte computed on the new image back onto the grid of the image that
went in (same size and orientation). :mod:`fusionmat.preprocess.chain` composes the steps and
decides the automatic settings.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Inverse = Callable[[np.ndarray], np.ndarray]


def identity(matte: np.ndarray) -> np.ndarray:
    """The inverse of a step that changed nothing."""
    return matte


@dataclass(frozen=True)
class Transformed:
    """An image after one step, how to map a matte back, and what the step did (for the user)."""

    image: np.ndarray
    inverse: Inverse
    step: str
    detail: str

    @property
    def changed(self) -> bool:
        return self.inverse is not identity
