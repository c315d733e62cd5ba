from __future__ import annotations

import numpy as np
import pytest

from fusionmat.preprocess.box import Box
from fusionmat.preprocess.detect import (
    FACE_FULL,
    FACE_SHORT,
    PERSON,
    Detection,
    Detector,
    anchor_centres,
    letterbox,
    suppress,
)
from tests.conftest import requires_weights


@pytest.mark.parametrize("spec, count", [(FACE_SHORT, 896), (FACE_FULL, 2304), (PERSON, 2254)])
def test_anchor_grids_match_the_models_outputs(spec, count):
    size = {FACE_SHORT: 128, FACE_FULL: 192, PERSON: 224}[spec]
    anchors = anchor_centres(size, spec.strides, spec.anchors_per_cell)
    assert anchors.shape == (count, 2)
    assert anchors.min() > 0 and anchors.max() < 1


def test_letterbox_geometry_maps_back_to_source_pixels():
    image = np.zeros((60, 120, 3), np.float32)
    image[10, 100] = 1.0
    square, side, left, top = letterbox(image, 240)
    assert square.shape == (240, 240, 3) and (side, left, top) == (120.0, 0.0, 30.0)
    y, x = np.unravel_index(square[..., 0].argmax(), square.shape[:2])
    assert abs((x + 0.5) / 240 * side - left - 100.5) <= 1 and abs((y + 0.5) / 240 * side - top - 10.5) <= 1


def test_suppression_keeps_the_best_of_overlapping_boxes():
    kp = np.zeros((1, 2))
    a, b, c = (Detection(0.9, Box(0, 0, 10, 10), kp), Detection(0.8, Box(1, 1, 10, 10), kp),
               Detection(0.7, Box(50, 50, 10, 10), kp))
    assert suppress([b, c, a]) == [a, c]


@requires_weights
def test_finds_the_astronauts_face_and_eyes(astronaut):
    face = Detector(FACE_FULL).detect(astronaut.astype(np.float32) / 255)[0]
    x, y, w, h = face.box
    assert 170 < x + w / 2 < 260 and 80 < y + h / 2 < 180  # her face, by eye
    right_eye, left_eye = face.keypoints[:2]
    assert right_eye[0] < left_eye[0]  # the subject's right eye is on the image's left


@requires_weights
def test_nothing_found_on_a_flat_image():
    assert Detector(PERSON).detect(np.full((300, 200, 3), 0.5, np.float32)) == []


def test_one_box_convention():
    box = Box.from_corners(10.0, 20.0, 40.0, 60.0)
    assert box == (10.0, 20.0, 30.0, 40.0) and (box.right, box.bottom, box.area) == (40.0, 60.0, 1200.0)
    assert box.iou(box) == 1.0 and box.iou(box.shifted(100, 0)) == 0.0
    assert Box(-5.5, 2.2, 20, 10).clipped(8, 12) == (0, 2, 12, 6)  # whole pixels inside a 12x8 image
    assert Box(50, 50, 5, 5).clipped(8, 12) is None
    image = np.arange(96).reshape(8, 12)
    assert image[Box(2, 1, 3, 2).slices()].tolist() == [[14, 15, 16], [26, 27, 28]]
