from __future__ import annotations

import numpy as np
import pytest

from fusionmat.preprocess.aspect import parse_ratio, restore_aspect


@pytest.mark.parametrize("text, ratio", [("3:4", (3.0, 4.0)), ("640x960", (640.0, 960.0)),
                                         ("16X9", (16.0, 9.0)), ("1.5:1", (1.5, 1.0))])
def test_parse_ratio(text, ratio):
    assert parse_ratio(text) == ratio


@pytest.mark.parametrize("text", ["3", "3:4:5", "a:b", "0:4", "-3:4", ""])
def test_parse_ratio_rejects(text):
    with pytest.raises(ValueError, match="aspect"):
        parse_ratio(text)


@pytest.mark.parametrize("shape, ratio, stretched", [((512, 512), (3, 4), (683, 512)),
                                                     ((512, 512), (4, 3), (512, 683)),
                                                     ((300, 400), (16, 9), (300, 533))])
def test_restore_only_enlarges_and_round_trips(shape, ratio, stretched):
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    matte = np.clip((min(h, w) * 0.3 - np.hypot(yy - h / 2, xx - w / 2)) / 5 + 0.5, 0, 1).astype(np.float32)
    step = restore_aspect(np.repeat(matte[..., None], 3, axis=2), ratio)
    assert step.image.shape[:2] == stretched
    back = step.inverse(step.image[..., 0])
    assert back.shape == shape and np.abs(back - matte).max() < 0.05


def test_right_ratio_changes_nothing():
    assert not restore_aspect(np.zeros((300, 400, 3), np.float32), (4, 3)).changed


def test_a_squashed_circle_comes_back_round():
    """A 3:4 scene squashed to a square: a circle in the scene is an ellipse; restored, it is round."""
    h = w = 400
    yy, xx = np.mgrid[0:h, 0:w]
    ellipse = (((xx - 200) / (100 * 4 / 3)) ** 2 + ((yy - 200) / 100) ** 2 < 1).astype(np.float32)
    restored = restore_aspect(np.repeat(ellipse[..., None], 3, axis=2), (3, 4)).image[..., 0] > 0.5
    ys, xs = np.nonzero(restored)
    assert abs((xs.max() - xs.min()) - (ys.max() - ys.min())) <= 3
