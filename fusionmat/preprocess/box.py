"""The one box convention of the package: left, top, width and height in pixels, as ``--crop
X,Y,W,H`` takes it. Detections, crop boxes and subject boxes are all :class:`Box`."""
from __future__ import annotations

import math
from typing import NamedTuple


class Box(NamedTuple):
    """A rectangle: ``x``, ``y`` its top-left corner, ``width`` and ``height`` (pixels, may be fractional)."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def from_corners(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        """The box from its top-left (x0, y0) and bottom-right (x1, y1) corners."""
        return cls(x0, y0, x1 - x0, y1 - y0)

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def shifted(self, dx: float, dy: float) -> Box:
        """The same box moved by (dx, dy)."""
        return Box(self.x + dx, self.y + dy, self.width, self.height)

    def scaled(self, factor: float) -> Box:
        """The box in the pixels of an image ``factor`` times larger."""
        return Box(self.x * factor, self.y * factor, self.width * factor, self.height * factor)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other``."""
        ix = max(0.0, min(self.right, other.right) - max(self.x, other.x))
        iy = max(0.0, min(self.bottom, other.bottom) - max(self.y, other.y))
        union = self.area + other.area - ix * iy
        return ix * iy / union if union > 0 else 0.0

    def clipped(self, height: int, width: int) -> Box | None:
        """The whole pixels this box covers inside a ``height`` x ``width`` image (integer box), or
        None when it covers none."""
        x0, y0 = max(0, math.floor(self.x)), max(0, math.floor(self.y))
        x1, y1 = min(width, math.ceil(self.right)), min(height, math.ceil(self.bottom))
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)

    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) to index an array with an integer box: ``image[box.slices()]``."""
        x, y, w, h = (int(v) for v in self)
        return slice(y, y + h), slice(x, x + w)
