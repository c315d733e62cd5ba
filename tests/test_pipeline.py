from __future__ import annotations

import numpy as np
import pytest

import fusionmat
from fusionmat.engines.base import Engine
from fusionmat.matting.pipeline import matte_image
from fusionmat.matting.refine import NoSubjectWarning
from tests.conftest import requires_weights


class ConstantEngine(Engine):
    """A stand-in engine: returns a fixed probability map, to pin the pipeline's plumbing."""

    name = "constant"
    refine = "none"

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def predict(self, image):
        self.calls += 1
        return np.full(image.shape[:2], self.value, np.float32)


def test_pipeline_uses_engine_and_its_refinement():
    engine = ConstantEngine(0.7)
    out = matte_image(np.zeros((20, 30, 3), np.uint8), engine)
    assert out.shape == (20, 30) and engine.calls == 1
    np.testing.assert_allclose(out, 0.7)


def test_pipeline_warns_when_nothing_is_found():
    with pytest.warns(NoSubjectWarning):
        out = matte_image(np.zeros((20, 30, 3), np.float32), ConstantEngine(0.0), refine="closed-form")
    assert not out.any()


def test_pipeline_rejects_unknown_refinement():
    with pytest.raises(ValueError, match="refine must be one of"):
        matte_image(np.zeros((20, 30, 3), np.float32), ConstantEngine(0.0), refine="magic")


@requires_weights
def test_api_matte_on_astronaut(astronaut, astronaut_file):
    alpha = fusionmat.matte(astronaut)
    assert alpha.shape == (512, 512) and alpha.dtype == np.float32
    assert alpha[100:160, 190:260].mean() > 0.95  # her face
    assert alpha[:60, 330:420].mean() < 0.05  # the wall above the shuttle
    assert alpha[380:, 60:200].mean() > 0.95  # the orange suit
    soft = ((alpha > 0.05) & (alpha < 0.95)).sum()
    assert soft > 500  # a soft matte, not a binary mask
    np.testing.assert_array_equal(fusionmat.matte(astronaut_file), alpha)


@requires_weights
def test_eight_bit_and_float_photos_give_the_same_matte(astronaut, selfie_engine):
    from fusionmat.preprocess.chain import Preprocessor, Settings

    chain = Preprocessor(Settings())
    turned = np.ascontiguousarray(np.rot90(astronaut))  # through rotate, crop and refine
    eight = matte_image(turned, selfie_engine, preprocessor=chain)
    floating = matte_image(turned.astype(np.float32) / 255, selfie_engine, preprocessor=chain)
    difference = np.abs(eight - floating)  # 8-bit rounding of the photo moves a few edge pixels a little
    assert eight.shape == turned.shape[:2]
    assert difference.mean() < 1e-3 and (difference > 0.02).mean() < 0.005 and difference.max() < 0.2


@requires_weights
def test_flat_image_has_no_person(selfie_engine):
    with pytest.warns(NoSubjectWarning):
        out = matte_image(np.full((200, 300, 3), 0.5, np.float32), selfie_engine)
    assert not out.any()


def test_an_engine_returning_a_read_only_array_is_fine():
    class ReadOnlyEngine(ConstantEngine):
        def predict(self, image):
            return np.broadcast_to(np.float32(1.5), image.shape[:2])  # read-only, out of range

    alpha = matte_image(np.zeros((20, 30, 3), np.uint8), ReadOnlyEngine(0.0), refine="none")
    assert alpha.shape == (20, 30) and alpha.max() == 1.0
