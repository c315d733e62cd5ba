"""Preprocessor.decide: the automatic settings made explicit once (for a shot of a video), so that
the same steps are repeated on later frames without detection."""
from __future__ import annotations

import numpy as np
import pytest

from fusionmat.preprocess.chain import Preprocessor, Settings
from tests.conftest import requires_weights


def picture(h: int = 90, w: int = 120) -> np.ndarray:
    return np.random.default_rng(3).random((h, w, 3)).astype(np.float32)


@pytest.mark.parametrize("settings", [
    Settings(rotate=30.0, crop=(1, 2, 30, 40), aspect=(4.0, 3.0)),
    Settings(rotate=-90.0, crop="none", aspect="none"),
    Settings(rotate="none", crop=(0, 0, 50, 60), aspect="none"),
    Settings(rotate="none", crop="none", aspect=(3.0, 4.0)),
])
def test_explicit_settings_are_decided_as_they_are(settings):
    chain = Preprocessor(settings)
    assert chain.decide(picture()) == settings
    assert chain.detectors == {}  # nothing automatic: no detector loaded


def scene_with_a_small_portrait(astronaut: np.ndarray, shift: int = 0) -> np.ndarray:
    """scikit-image's coffee at 512x512 with the astronaut pasted small in its lower part."""
    from skimage import data

    from fusionmat.matting.resize import resize_to

    scene = resize_to(data.coffee().astype(np.float32) / 255, 512, 512)
    scene[307:, 200 + shift:405 + shift] = resize_to(astronaut.astype(np.float32) / 255, 205, 205)
    return scene


@requires_weights
def test_decided_settings_repeat_the_automatic_steps_without_detection(astronaut):
    auto = Preprocessor(Settings(rotate="auto", crop="auto"))
    scene = scene_with_a_small_portrait(astronaut)
    decided = auto.decide(scene)
    assert decided.rotate == 0.0 and isinstance(decided.crop, tuple) and decided.aspect == "none"
    x, y, w, h = decided.crop
    assert x <= 300 <= x + w and y <= 400 <= y + h and w * h < 0.6 * 512 * 512  # around the portrait
    fixed = Preprocessor(decided)
    assert fixed.detectors == {}
    for want, got in zip(auto.steps(scene), fixed.steps(scene), strict=True):
        assert want.step == got.step and np.array_equal(want.image, got.image)
    later = scene_with_a_small_portrait(astronaut, shift=6)  # a later frame of the shot: the same box
    assert fixed.steps(later)[-1].image.shape == fixed.steps(scene)[-1].image.shape


@requires_weights
@pytest.mark.parametrize("quarters, angle", [(1, -90.0), (-1, 90.0), (0, 0.0)])
def test_decide_turns_a_turned_portrait_upright(astronaut, quarters, angle):
    upright = astronaut.astype(np.float32) / 255
    turned = np.ascontiguousarray(np.rot90(upright, quarters))
    decided = Preprocessor(Settings(rotate="auto", crop="none")).decide(turned)
    assert decided == Settings(rotate=angle, crop="none", aspect="none")
    steps = Preprocessor(decided).steps(turned)
    assert np.array_equal(steps[-1].image, upright)  # a quarter turn is exact


@requires_weights
def test_no_subject_decides_no_turn_and_no_crop():
    assert Preprocessor(Settings()).decide(np.full((300, 400, 3), 0.5, np.float32)) == Settings(
        rotate=0.0, crop="none", aspect="none")
