"""The interface every engine implements.

An engine is one module with one :class:`Engine` subclass, plus one line in the registry
(:data:`fusionmat.engines.ENGINES`). The class declares everything the rest of the package
needs to know, so neither the pipeline nor the CLI names an engine:

- ``files``: the model files it loads (names in ``weights/manifest.json``);
- ``options``: the keyword options its constructor takes besides ``threads`` (the CLI refuses
  ``--size`` or ``--weights`` for an engine that does not list them), and ``parse_option`` to
  turn an option's text into its value;
- ``extra``: the pip extra that installs its dependencies, when they are not core ones;
- ``input_size(h, w)``: the grid it works on for an HxW image;
- ``refine``: the refinement the pipeline applies by default ('closed-form' for a coarse
  segmentation, 'none' for a true matting network);
- ``upsample``: how the pipeline brings its output to the image's size ('guided' keeps a
  matting network's edges on the photo's edges; 'bilinear');
- ``settings()``: what, besides its name, makes its mattes differ (a batch re-run redoes an
  image whose matte was made with other settings).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Engine(ABC):
    """A loaded matting model. Build it once and reuse it for every image."""

    name: str = ""
    files: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    extra: str | None = None
    refine: str = "none"
    upsample: str = "bilinear"

    @classmethod
    def parse_option(cls, name: str, value):
        """The value of option ``name`` given as text on a command line; ValueError saying why not."""
        return value

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the grid the engine works on for an image of that size (default: that size)."""
        return height, width

    def settings(self) -> dict:
        """The engine's name and every option of this instance that changes its mattes."""
        return {"engine": self.name}

    @abstractmethod
    def predict(self, image: np.ndarray) -> np.ndarray:
        """Matte (or foreground probability) of one image.

        Parameters
        ----------
        image : HxWx3 RGB, uint8 or float32 in [0, 1].

        Returns
        -------
        float32 in [0, 1] on the grid ``input_size(H, W)`` (the image's aspect ratio); the
        pipeline brings it to HxW with the engine's ``upsample`` method.
        """
