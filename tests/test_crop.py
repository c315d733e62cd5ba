from __future__ import annotations

import numpy as np
import pytest

from fusionmat.matting.resize import resize_to
from fusionmat.preprocess.crop import crop, subject_box
from tests.conftest import requires_weights


def test_crop_and_paste_back_onto_the_full_grid():
    rng = np.random.default_rng(1)
    image = rng.random((50, 80, 3), dtype=np.float32)
    step = crop(image, (10, 5, 30, 20))
    np.testing.assert_array_equal(step.image, image[5:25, 10:40])
    matte = step.inverse(np.ones((20, 30), np.float32))
    assert matte.shape == (50, 80)
    assert matte[5:25, 10:40].all() and matte.sum() == 600


def test_crop_box_is_clipped_to_the_image():
    step = crop(np.zeros((50, 80, 3), np.float32), (-10, 40, 200, 200))
    assert step.image.shape == (10, 80, 3)
    assert step.inverse(np.ones((10, 80), np.float32))[40:].all()


def test_whole_image_box_changes_nothing():
    image = np.zeros((50, 80, 3), np.float32)
    assert not crop(image, (0, 0, 80, 50)).changed


def test_box_outside_the_image_is_an_error():
    with pytest.raises(ValueError, match="does not overlap"):
        crop(np.zeros((50, 80, 3), np.float32), (100, 0, 10, 10))


@pytest.fixture(scope="module")
def face_detector():
    from fusionmat.preprocess.detect import FACE_FULL, Detector

    return Detector(FACE_FULL)


@pytest.fixture(scope="module")
def astronaut_subject(astronaut, selfie_engine):
    """The astronaut and a mask of her (the default engine's matte > 0.5)."""
    from fusionmat.matting.pipeline import matte_image

    return astronaut.astype(np.float32) / 255, matte_image(astronaut, selfie_engine) > 0.5


def small_composite(subject, size: int, positions: list[int], scale: float = 0.4):
    """Paste the subject, shrunk, standing on the bottom edge of a textured background at each x."""
    from skimage import data

    image, mask = subject
    background = resize_to(data.coffee().astype(np.float32) / 255, size, size)
    side = int(image.shape[0] * scale)
    small, small_mask = resize_to(image, side, side), resize_to(mask.astype(np.float32), side, side) > 0.5
    truth = np.zeros((size, size), bool)
    for x in positions:
        background[size - side:, x:x + side] = small
        truth[size - side:, x:x + side] = small_mask
    return background, truth


def assert_box_holds(box, truth):
    x, y, w, h = box
    ys, xs = np.nonzero(truth)
    assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h
    assert w * h < 0.6 * truth.size  # and it is a real crop


@requires_weights
def test_auto_crop_keeps_the_whole_small_subject(astronaut_subject, face_detector):
    image, truth = small_composite(astronaut_subject, 512, [200])
    assert_box_holds(subject_box(image, face_detector), truth)


@requires_weights
def test_auto_crop_keeps_everyone(astronaut_subject, face_detector):
    image, truth = small_composite(astronaut_subject, 640, [30, 420], scale=0.3)
    assert_box_holds(subject_box(image, face_detector), truth)


@requires_weights
def test_no_crop_when_the_subject_fills_the_frame(astronaut_subject, face_detector):
    assert subject_box(astronaut_subject[0], face_detector) is None


@requires_weights
def test_no_crop_without_people(face_detector):
    assert subject_box(np.full((300, 300, 3), 0.5, np.float32), face_detector) is None
