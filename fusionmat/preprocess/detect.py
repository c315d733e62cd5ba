"""Face and person detection with the MediaPipe BlazeFace and pose-detector models.

The detectors are single-shot: every anchor of a fixed grid predicts a score, a box and a few
keypoints, relative to the anchor's centre. This module builds the anchor grids, runs a model on
a letterboxed (padded to square) copy of the image, decodes the raw outputs and suppresses
overlapping detections. Coordinates come back in pixels of the image that was passed in.

Keypoints, in the models' own order:
- faces: right eye, left eye, nose tip, mouth, right ear, left ear (the subject's right and left);
- persons: hip centre, a point above it at the whole body's radius, shoulder centre, a point at
  the upper body's radius. The hip -> body-radius line points from the hips to the head.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusionmat.engines.tflite import TFLiteModel
from fusionmat.engines.weights import model_path
from fusionmat.matting.resize import resize_to
from fusionmat.preprocess.box import Box


@dataclass(frozen=True)
class DetectorSpec:
    """What one single-shot detector file needs for decoding."""

    filename: str
    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]
    keypoints: int
    min_score: float


FACE_SHORT = DetectorSpec("face_detection_short_range.tflite", (8, 16), (2, 6), 6, 0.5)
FACE_FULL = DetectorSpec("face_detection_full_range_sparse.tflite", (4,), (1,), 6, 0.5)
PERSON = DetectorSpec("pose_detection.tflite", (8, 16, 32), (2, 2, 6), 4, 0.5)


TILE = 0.6
"""Side of each corner tile in :meth:`Detector.detect_in_tiles`, as a fraction of the image's."""


@dataclass(frozen=True)
class Detection:
    """One detection in pixel coordinates of the image given to the detector.

    ``box`` is a :class:`~fusionmat.preprocess.box.Box`; ``keypoints`` is a Kx2 array of (x, y).
    """

    score: float
    box: Box
    keypoints: np.ndarray


def anchor_centres(input_size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """Nx2 anchor centres (x, y) in [0, 1], in the order the model's outputs use."""
    centres = []
    for stride, count in zip(strides, per_cell):
        cells = -(-input_size // stride)
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        centres.append(np.repeat(grid, count, axis=1).reshape(-1, 2))
    return np.concatenate(centres).astype(np.float32)


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Pad an RGB float image to a centred square and resize it to ``size``.

    Returns the square, the side of the padded square in source pixels, and the padding on the
    left and top (source pixels), so that ``source = normalised * side - pad``.
    """
    h, w = image.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    square = np.zeros((side, side, 3), np.float32)
    square[top:top + h, left:left + w] = image
    return resize_to(square, size, size), float(side), float(left), float(top)


def suppress(detections: list[Detection], iou: float = 0.3) -> list[Detection]:
    """Greedy non-maximum suppression, best score first."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(det.box.iou(k.box) < iou for k in kept):
            kept.append(det)
    return kept


class Detector:
    """One single-shot detector, loaded once.

    Parameters
    ----------
    spec : which model and how to decode it (:data:`FACE_SHORT`, :data:`FACE_FULL`, :data:`PERSON`).
    threads : CPU threads for LiteRT.
    """

    def __init__(self, spec: DetectorSpec, *, threads: int | None = None) -> None:
        self.spec = spec
        self.model = TFLiteModel(model_path(spec.filename), threads=threads)
        self.size = self.model.input_size[0]
        self.anchors = anchor_centres(self.size, spec.strides, spec.anchors_per_cell)

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, float]:
        """Scores (N,) and regressions (N, 4 + 2K) on a letterboxed copy, with its geometry."""
        square, side, left, top = letterbox(image, self.size)
        outputs = self.model.run((square * 2.0 - 1.0)[None])
        regress, logits = sorted(outputs.values(), key=lambda a: -a.shape[-1])
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.reshape(-1), -80.0, 80.0)))
        return scores, regress.reshape(len(scores), -1), side, left, top

    def detect(self, image: np.ndarray, *, min_score: float | None = None) -> list[Detection]:
        """Detections on an HxWx3 float image in [0, 1], best first, overlaps suppressed."""
        scores, regress, side, left, top = self.raw(image)
        threshold = self.spec.min_score if min_score is None else min_score
        found = []
        for i in np.flatnonzero(scores >= threshold):
            values = regress[i] / self.size
            cx, cy = values[0] + self.anchors[i, 0], values[1] + self.anchors[i, 1]
            w, h = values[2], values[3]
            points = values[4:4 + 2 * self.spec.keypoints].reshape(-1, 2) + self.anchors[i]
            box = Box(float((cx - w / 2) * side - left), float((cy - h / 2) * side - top),
                      float(w * side), float(h * side))
            found.append(Detection(float(scores[i]), box,
                                   points * side - np.array([left, top], np.float32)))
        return suppress(found)

    def detect_in_tiles(self, image: np.ndarray, *, min_score: float | None = None,
                        tile: float = TILE) -> list[Detection]:
        """:meth:`detect` on four overlapping corner tiles, in the image's coordinates (not suppressed).

        Each tile spans ``tile`` of the width and height, so faces too small for the model at
        the whole image's scale are seen larger; the tiles overlap so none is cut in two. Merge
        with the whole image's detections through :func:`suppress`.
        """
        h, w = image.shape[:2]
        found = []
        th, tw = int(round(h * tile)), int(round(w * tile))
        for y in (0, h - th):
            for x in (0, w - tw):
                shift = np.array([x, y], np.float32)
                for d in self.detect(image[y:y + th, x:x + tw], min_score=min_score):
                    found.append(Detection(d.score, d.box.shifted(x, y), d.keypoints + shift))
        return found
