"""The default engine's passes, with its networks replaced by a stand-in probability."""
from __future__ import annotations

import numpy as np

from fusionmat.engines.selfie import SelfieEngine, subject_box


def engine_seeing(prob_of) -> tuple[SelfieEngine, list]:
    """A SelfieEngine whose segmentation is ``prob_of(image)``, recording each image it segments."""
    engine = object.__new__(SelfieEngine)  # no models loaded
    engine.zoom = True
    seen = []

    def segment(image):
        seen.append(image.shape[:2])
        return prob_of(image)

    engine._segment = segment
    return engine, seen


def test_subject_box_grows_by_the_margin_and_clips():
    prob = np.zeros((100, 200), np.float32)
    prob[40:60, 50:150] = 0.9
    assert subject_box(prob, 0.1) == (40, 38, 120, 24)  # x, y, width, height
    prob[0:5, 0:5] = 0.9
    assert subject_box(prob, 0.5) == (0, 0, 200, 90)
    assert subject_box(np.zeros((10, 10)), 0.1) is None


def test_a_small_subject_gets_a_second_pass_on_its_box():
    def prob_of(image):
        p = np.zeros(image.shape[:2], np.float32)
        h, w = p.shape
        p[h // 3:2 * h // 3, w // 3:2 * w // 3] = 1.0
        return p

    engine, seen = engine_seeing(prob_of)
    out = engine.predict(np.zeros((300, 300, 3), np.float32))
    assert seen[0] == (300, 300) and len(seen) == 2 and seen[1][0] < 200
    assert out.shape == (300, 300) and out[:50].max() == 0


def test_a_subject_filling_the_frame_is_segmented_once():
    engine, seen = engine_seeing(lambda image: np.ones(image.shape[:2], np.float32))
    out = engine.predict(np.zeros((300, 200, 3), np.float32))
    assert seen == [(300, 200)] and out.min() == 1.0
