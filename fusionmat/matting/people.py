"""Keeping a matte to people: a matting network mattes the salient thing, a person or not.

:func:`keep_people` is a pure function on arrays: given the matte and a person probability
(:class:`PersonSegmenter`), it removes the matte's parts that are not connected to a person
and fades out whatever lies far from one, so a cat or a lamp beside or behind the subject is
dropped while hair and things the person holds are kept.

The person probability is MediaPipe's selfie segmentation, which also takes a close-up animal
face for a person; when BlazeFace finds human faces, it is limited to the box that holds their
bodies (the box automatic cropping uses, :func:`fusionmat.preprocess.crop.subject_box`).

The segmentation also marks cats, cups and textures as people, so whether anybody is there at
all is decided from detections instead (:class:`PersonCheck`: a face and a body on the
segmented region); without them the probability is all zero, so the matte is empty and the
user is told that no person was found. The selfie engine runs the same check on its output.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fusionmat.preprocess.box import Box
from fusionmat.preprocess.detect import FACE_FULL, PERSON, Detection, Detector, suppress
from fusionmat.preprocess.rotate import MIN_TILT, body_tilt, rotate

MARGIN = 0.04
"""Matte within this distance of a person pixel, as a fraction of the people's extent (the long
side of their bounding box), is kept whole; it fades to zero at twice the distance (the sweep
is in docs/benchmarks.md)."""
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


DETECTION_MIN = 0.3
"""Face and body detections weaker than this count as no evidence."""
FACE_SURE = 0.75
"""A face this strong on the person segmentation is a person, with no further look."""
SURE = 1.4
"""Face score + body score at or above this: a person, without a second look."""
UNSURE = 0.9
"""Face score + body score below this: nobody, without a second look."""
ENOUGH = 1.15
"""Between the two, the sum is averaged with the mirrored photo's, and a person needs this much."""


def best_on(detections: list[Detection], person: np.ndarray) -> float:
    """The best score among ``detections`` whose box holds some of the segmented person
    (``person`` > 0.5, same grid as the detections); 0 when none does."""
    best = 0.0
    for d in detections:
        inside = d.box.clipped(*person.shape)
        if d.score > best and inside is not None and (person[inside.slices()] > 0.5).any():
            best = d.score
    return best


class PersonCheck:
    """Whether a person is in a picture, from face and body detections on a person segmentation.

    The segmentation alone is no evidence (it marks a cat's head or a cup as a person), and only
    detections whose box holds some of it count. A strong face (:data:`FACE_SURE`) is a person.
    A weaker one (a tilted or squashed face, or a snake's head, a galaxy) needs a body too (the
    BlazePose detector): the best face's score, or the face found with the photo turned as that
    body leans, plus the body's score decides clear cases at once (:data:`SURE`, :data:`UNSURE`);
    the rest are looked at mirrored as well, which evens out the detectors' noise, and need
    :data:`ENOUGH` on average.

    Parameters
    ----------
    threads : CPU threads for LiteRT.
    """

    files = (FACE_FULL.filename, PERSON.filename)

    def __init__(self, *, threads: int | None = None) -> None:
        self.faces = Detector(FACE_FULL, threads=threads)
        self.bodies = Detector(PERSON, threads=threads)

    def find_faces(self, image: np.ndarray, person: np.ndarray) -> list[Detection]:
        """Faces on the whole image, and in its tiles (they find small faces) unless a strong one
        is already on the person; at :data:`DETECTION_MIN`, overlaps suppressed."""
        whole = self.faces.detect(image, min_score=DETECTION_MIN)
        if best_on(whole, person) >= FACE_SURE:
            return whole
        return suppress(whole + self.faces.detect_in_tiles(image, min_score=DETECTION_MIN))

    def _look(self, image: np.ndarray, person: np.ndarray, faces: list[Detection] | None = None) -> float:
        """Face score + body score on the person for one view of the image; the face is also
        looked for with the image turned upright by the body's lean (a tilted or upside-down head)."""
        face = best_on(faces if faces is not None else self.find_faces(image, person), person)
        bodies = [d for d in self.bodies.detect(image, min_score=DETECTION_MIN) if best_on([d], person)]
        if not bodies:
            return face
        lean = body_tilt(bodies[0])
        if abs(lean) >= MIN_TILT:
            turned, turned_person = rotate(image, lean).image, rotate(person, lean).image
            face = max(face, best_on(self.faces.detect(turned, min_score=DETECTION_MIN), turned_person))
        return face + bodies[0].score

    def __call__(self, image: np.ndarray, person: np.ndarray, faces: list[Detection] | None = None) -> bool:
        """True when a person is in ``image`` (see the class).

        ``image`` is HxWx3 float in [0, 1], ``person`` the segmentation on the same grid, and
        ``faces`` what :meth:`find_faces` returns for them, when the caller already has it.
        """
        if not (person > 0.5).any():
            return False
        faces = faces if faces is not None else self.find_faces(image, person)
        if best_on(faces, person) >= FACE_SURE:
            return True
        first = self._look(image, person, faces)
        if first >= SURE or first < UNSURE:
            return first >= SURE
        mirrored = self._look(np.ascontiguousarray(image[:, ::-1]), np.ascontiguousarray(person[:, ::-1]))
        return (first + mirrored) / 2.0 >= ENOUGH


class PersonSegmenter:
    """Person probability of an image: a person segmentation (the selfie engine's models, one
    pass with flip averaging), limited to the people's box when BlazeFace (full range) finds
    faces; all zero when :class:`PersonCheck` finds nobody.

    Parameters
    ----------
    segment : the segmentation, HxWx3 float image -> probability (on any grid of that aspect).
    threads : CPU threads for LiteRT.
    """

    files = ("selfie_segmentation.tflite", "selfie_segmentation_landscape.tflite", *PersonCheck.files)
    check: PersonCheck | None = None
    """Set to None to keep the segmentation whatever it marks (as before the check, for comparisons)."""

    def __init__(self, segment: Callable[[np.ndarray], np.ndarray], *, threads: int | None = None) -> None:
        self._segment = segment
        self._finder = PersonCheck(threads=threads)
        self.check = self._finder

    def __call__(self, image: np.ndarray, height: int, width: int) -> np.ndarray:
        """The probability for ``image`` (HxWx3, float in [0, 1]) on a ``height`` x ``width`` grid."""
        from fusionmat.matting.resize import resize_to
        from fusionmat.preprocess.crop import MARGIN as CROP_MARGIN
        from fusionmat.preprocess.crop import MIN_FACE_SCORE, box_around

        seen = resize_to(self._segment(image), *image.shape[:2])
        # whole image and tiles, as crop.subject_box looks; weak faces are evidence for the check
        faces = suppress(self._finder.faces.detect(image, min_score=DETECTION_MIN)
                         + self._finder.faces.detect_in_tiles(image, min_score=DETECTION_MIN))
        if self.check is not None and not self.check(image, seen, faces):
            return np.zeros((height, width), np.float32)
        prob = resize_to(seen, height, width)
        strong = [d for d in faces if d.score >= MIN_FACE_SCORE]
        box = box_around(strong, image.shape[0], image.shape[1], CROP_MARGIN)
        if box is None:
            return prob
        sy, sx = height / image.shape[0], width / image.shape[1]
        grid = Box.from_corners(box.x * sx, box.y * sy, box.right * sx, box.bottom * sy).clipped(height, width)
        limited = np.zeros_like(prob)
        if grid is not None:
            limited[grid.slices()] = prob[grid.slices()]
        return limited
