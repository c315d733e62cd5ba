"""Keeping a matte to people: a matting network mattes the salient thing, a person or not.

:func:`keep_people` is a pure function on arrays: given the matte and a person probability
(:class:`PersonSegmenter`), it removes the matte's parts that are not connected to a person
and fades out whatever lies far from one, so a cat or a lamp beside or behind the subject is
dropped while hair and things the person holds are kept.

The person probability is MediaPipe's selfie segmentation, which also takes a close-up animal
face for a person; when BlazeFace finds human faces, it is limited to the box that holds their
bodies (the box automatic cropping uses, :func:`fusionmat.preprocess.crop.subject_box`).
"""
from __future__ import annotations

import numpy as np

MARGIN = 0.04
"""Matte within this distance of a person pixel, as a fraction of the people's extent (the long
side of their bounding box), is kept whole; it fades to zero at twice the distance. Mean SAD on
../shared/bench/rotated (the filled corners of turned photos are matted otherwise): 7.17 without
the filter, 5.12 / 5.31 / 5.49 / 5.99 / 6.71 at 0.03 / 0.04 / 0.05 / 0.08 / 0.15; on plain 4.95 at
0.03 (hair beyond the segmentation cut), 4.90 at 0.04, 4.89 at 0.05 and above."""
LOW = 0.05
"""Matte values above this make up the connected regions that must touch a person."""


def keep_people(matte: np.ndarray, person: np.ndarray, *, margin: float = MARGIN, low: float = LOW) -> np.ndarray:
    """``matte`` with everything that is not part of a person removed.

    Parameters
    ----------
    matte : HxW float32 in [0, 1], a matting network's output.
    person : HxW float in [0, 1], the probability that a pixel belongs to a person (same grid).
    margin : see :data:`MARGIN`.
    low : see :data:`LOW`.

    Returns
    -------
    HxW float32 in [0, 1]: zero where no person is near; all zero when ``person`` finds nobody.
    Regions of ``matte > low`` that overlap no person pixel are removed, and the rest is
    weighted by 1 up to ``margin`` x the people's extent from the nearest person pixel, falling
    linearly to 0 at twice that.
    """
    import cv2

    if person.shape != matte.shape:
        raise ValueError(f"person must have the matte's shape {matte.shape}, got {person.shape}")
    inside = person > 0.5
    if not inside.any():
        return np.zeros(matte.shape, np.float32)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    reach = max(2.0, margin * extent)
    distance = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 3)
    weight = np.clip(2.0 - distance / reach, 0.0, 1.0)
    count, labels = cv2.connectedComponents((matte > low).astype(np.uint8), connectivity=8)
    if count > 2:  # more than one region: drop those that touch no person
        touching = np.zeros(count, bool)
        touching[np.unique(labels[inside])] = True
        touching[0] = True  # the region of low values is weighted by distance only
        weight *= touching[labels]
    return (matte * weight).astype(np.float32)


class PersonSegmenter:
    """Person probability of an image: MediaPipe's selfie segmentation (the selfie engine's
    models, one pass with flip averaging), limited to the people's box when BlazeFace (full
    range) finds faces.

    Parameters
    ----------
    threads : CPU threads for LiteRT.
    """

    files = ("selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite",
             "face_detection_full_range_sparse.tflite")

    def __init__(self, *, threads: int | None = None) -> None:
        from fusionmat.preprocess.detect import FACE_FULL, Detector
        from fusionmat.engines.selfie import SelfieEngine

        self._selfie = SelfieEngine(threads=threads, zoom=False)
        self._faces = Detector(FACE_FULL, threads=threads)

    def __call__(self, image: np.ndarray, height: int, width: int) -> np.ndarray:
        """The probability for ``image`` (HxWx3, float in [0, 1]) on a ``height`` x ``width`` grid."""
        from fusionmat.matting.resize import resize_to

        from fusionmat.preprocess.crop import subject_box

        prob = resize_to(self._selfie.predict(image), height, width)
        box = subject_box(image, self._faces, max_area=1.0)
        if box is None:
            return prob
        sy, sx = height / image.shape[0], width / image.shape[1]
        x, y, w, h = box
        y0, y1, x0, x1 = int(y * sy), int(np.ceil((y + h) * sy)), int(x * sx), int(np.ceil((x + w) * sx))
        limited = np.zeros_like(prob)
        limited[y0:y1, x0:x1] = prob[y0:y1, x0:x1]
        return limited
