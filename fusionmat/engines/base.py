"""The interface every engine implements."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Engine(ABC):
    """A loaded matting model. Build it once and reuse it for every image.

    ``predict`` takes HxWx3 RGB, uint8 or float32 in [0, 1], and returns float32 HxW in
    [0, 1] on the same grid. ``refine`` names the refinement the pipeline applies to that output by
    default ('closed-form' for a coarse segmentation, 'none' for a true matting network).
    """

    name: str = ""
    refine: str = "none"

    @abstractmethod
    def predict(self, image: np.ndarray) -> np.ndarray:
        """Matte (or foreground probability) of one image, same height and width."""
