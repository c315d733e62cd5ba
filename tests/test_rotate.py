from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fusionmat.preprocess.rotate import estimate_tilt, rotate, split_angle
from tests.conftest import SHARED, requires_shared, requires_weights


def soft_disk(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    """A synthetic matte: a disk with a 6 px linear edge."""
    yy, xx = np.mgrid[0:h, 0:w]
    return np.clip((r - np.hypot(yy - cy, xx - cx)) / 6.0 + 0.5, 0, 1).astype(np.float32)


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.mark.parametrize("angle, quarters, rest", [(0, 0, 0), (90, 1, 0), (-90, 3, 0), (180, 2, 0),
                                                   (30, 0, 30), (-40, 0, -40), (130, 1, 40), (-135, 3, -45)])
def test_split_angle(angle, quarters, rest):
    assert split_angle(angle) == (quarters, pytest.approx(rest))


@pytest.mark.parametrize("angle", [90, 180, 270, -90])
def test_quarter_turns_are_exact_and_invert_exactly(angle):
    rng = np.random.default_rng(0)
    image = rng.random((37, 53, 3), dtype=np.float32)
    step = rotate(image, angle)
    assert step.image.shape == ((53, 37, 3) if angle % 180 else (37, 53, 3))
    np.testing.assert_array_equal(step.image, np.rot90(image, (angle // 90) % 4))
    matte = image[..., 0]
    np.testing.assert_array_equal(step.inverse(np.rot90(matte, (angle // 90) % 4)), matte)


def test_positive_angles_turn_counter_clockwise():
    image = np.zeros((40, 60, 3), np.float32)
    image[2:6, 50:58] = 1.0  # top-right corner
    turned = rotate(image, 90).image
    ys, xs = np.nonzero(turned[..., 0])
    assert ys.mean() < 10 and xs.mean() < 10  # top-right goes to top-left


@pytest.mark.parametrize("angle", [7.5, -25.0, 40.0, 133.0, -160.0])
@pytest.mark.parametrize("shape", [(120, 90), (64, 200)])
def test_rotation_round_trips_a_matte_onto_the_original_grid(angle, shape):
    h, w = shape
    matte = soft_disk(h, w, h * 0.4, w * 0.6, min(h, w) * 0.25)
    image = np.repeat(matte[..., None], 3, axis=2)
    step = rotate(image, angle)
    # a matte computed on the turned image (here: the turned image itself) maps back into place
    back = step.inverse(step.image[..., 0])
    assert back.shape == (h, w)
    assert np.abs(back - matte).mean() < 0.01 and np.abs(back - matte).max() < 0.35
    # the whole input is on the canvas: nothing of the disk is lost
    assert abs(step.image[..., 0].sum() - matte.sum()) / matte.sum() < 0.02


def test_new_corners_are_filled_from_the_edges_not_black():
    image = np.full((100, 160, 3), 0.8, np.float32)
    turned = rotate(image, 30).image
    assert turned.shape[:2] == (167, 189)
    np.testing.assert_allclose(turned, 0.8, atol=1e-5)


def test_an_eight_bit_photo_stays_eight_bit_when_turned(astronaut):
    turned8 = rotate(astronaut, 25).image
    turned = rotate(astronaut.astype(np.float32) / 255, 25).image
    assert turned8.dtype == np.uint8 and turned8.shape == turned.shape
    assert np.abs(turned8 / 255.0 - turned).max() <= 1.5 / 255  # OpenCV's 8-bit warp rounds its weights


def portraits() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    found = [("astronaut", data.astronaut())]
    samples = SHARED / "samples" / "test_images"
    for stem in ("1", "keanu", "Outdoor", "test"):
        if (samples / f"{stem}.jpg").is_file():
            found.append((stem, np.asarray(Image.open(samples / f"{stem}.jpg").convert("RGB"))))
    return found


@pytest.fixture(scope="module")
def person_detector():
    from fusionmat.preprocess.detect import PERSON, Detector

    return Detector(PERSON)


@requires_weights
@pytest.mark.parametrize("turn", [-40, -20, 25, 40, 90, 180, 270])
def test_auto_rotate_recovers_known_turns_of_real_portraits(turn, person_detector):
    """Turning a portrait by ``turn`` (PIL, black corners) changes the estimate by -turn, +-5 degrees."""
    for name, rgb in portraits():
        upright = estimate_tilt(rgb.astype(np.float32) / 255, person_detector)
        turned = np.asarray(Image.fromarray(rgb).rotate(turn, resample=Image.BILINEAR, expand=True))
        estimate = estimate_tilt(turned.astype(np.float32) / 255, person_detector)
        assert angle_error(estimate, upright - turn) <= 5.0, (name, turn, upright, estimate)


@requires_weights
def test_upright_portraits_are_left_alone(person_detector):
    from fusionmat.preprocess.chain import auto_angle

    for name, rgb in portraits():
        assert auto_angle(estimate_tilt(rgb.astype(np.float32) / 255, person_detector)) == 0.0, name


@requires_weights
def test_no_person_no_estimate(person_detector):
    assert estimate_tilt(np.full((200, 300, 3), 0.3, np.float32), person_detector) is None


@requires_shared
def test_samples_present_for_the_rotation_test():
    assert len(portraits()) == 5
