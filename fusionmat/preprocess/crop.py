"""Cropping to the people in the frame so they fill the engine's input, and pasting back."""
from __future__ import annotations

import numpy as np

from fusionmat.errors import StepError
from fusionmat.preprocess import Transformed, identity
from fusionmat.preprocess.box import Box
from fusionmat.preprocess.detect import Detection, Detector, suppress

"""(x, y, width, height) in pixels."""

MARGIN = 0.15
"""Margin added on every side of the people's box, as a fraction of its size."""
MAX_AREA = 0.6
"""Automatic cropping is skipped when the box would keep more than this fraction of the image."""
MIN_FACE_SCORE = 0.6
SHOULDER_SPAN = 3.5
"""Half the width of a person's box, in face widths."""
HAIR = 0.5
"""Room above the face box, in face heights."""


def crop(image: np.ndarray, box: Box) -> Transformed:
    """Cut ``box`` (clipped to the image) out of ``image``.

    The inverse pastes a matte of the crop back into an otherwise zero matte of the full size.
    """
    h, w = image.shape[:2]
    inside = Box(*box).clipped(h, w)
    if inside is None:
        x, y, bw, bh = box
        raise StepError(f"crop box {x},{y},{bw},{bh} does not overlap the {w}x{h} image")
    if inside == (0, 0, w, h):
        return Transformed(image, identity, "crop", "whole image kept")
    rows, cols = inside.slices()

    def inverse(matte: np.ndarray) -> np.ndarray:
        full = np.zeros((h, w), dtype=matte.dtype)
        full[rows, cols] = matte
        return full

    return Transformed(image[rows, cols], inverse, "crop",
                       f"kept {inside.width}x{inside.height} at ({inside.x}, {inside.y})")


def person_box(face: Detection, image_height: int) -> Box:
    """The box that holds an upright person, from the box of their face.

    Shoulders span about three face widths; with arms, a held helmet or a bag a person is
    wider, so the box is seven face widths wide. It starts half a face above the face (hair) and runs to the
    bottom of the image (the body, however much of it is in the frame).
    """
    x, y, fw, fh = face.box
    cx = x + fw / 2.0
    return Box.from_corners(cx - SHOULDER_SPAN * fw, y - HAIR * fh, cx + SHOULDER_SPAN * fw, float(image_height))


def subject_box(image: np.ndarray, detector: Detector, *, margin: float = MARGIN,
                max_area: float = MAX_AREA) -> Box | None:
    """Box around every person whose face ``detector`` finds in an upright image.

    None when no face is found or when the box, with its margin, keeps more than
    ``max_area`` of the image (the subject already fills the frame).
    """
    h, w = image.shape[:2]
    faces = detector.detect(image, min_score=MIN_FACE_SCORE)
    box = box_around(faces, h, w, margin)
    if box is not None and box.area > max_area * w * h:
        return None  # people already fill the frame; more (smaller) faces only widen the box
    faces = suppress(faces + detector.detect_in_tiles(image, min_score=MIN_FACE_SCORE))
    box = box_around(faces, h, w, margin)
    if box is None or box.area > max_area * w * h:
        return None
    return box


def box_around(faces: list[Detection], h: int, w: int, margin: float) -> Box | None:
    """The people's boxes joined, grown by ``margin`` and clipped to the image (whole pixels);
    None without faces."""
    if not faces:
        return None
    people = [person_box(d, h) for d in faces]
    x0, y0 = min(p.x for p in people), min(p.y for p in people)
    x1, y1 = max(p.right for p in people), max(p.bottom for p in people)
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return Box.from_corners(x0 - mx, y0 - my, x1 + mx, y1 + my).clipped(h, w)
