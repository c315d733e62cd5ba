"""The MODNet engine: its size rule, its passes (with a stand-in network), and the real model."""
from __future__ import annotations

import numpy as np
import pytest

from fusionmat.engines.modnet import FLOOR, ModnetEngine, inference_size
from tests.conftest import requires_weights


@pytest.mark.parametrize("size", [(1024, 1024), (3000, 4000), (480, 640), (100, 37), (5000, 200)])
def test_inference_size_keeps_the_aspect_in_multiples_of_32(size):
    h, w = inference_size(*size, long_side=576)
    assert h % 32 == 0 and w % 32 == 0 and max(h, w) == 576
    assert abs(h / w - size[0] / size[1]) < 32 / min(h, w) + 1e-9 or min(h, w) == 32


def stand_in(flip: bool) -> tuple[ModnetEngine, list]:
    """A ModnetEngine whose network returns each pixel's red value, recording what it saw."""
    engine = object.__new__(ModnetEngine)  # no model loaded
    engine.long_side, engine.flip, engine.people = 64, flip, None
    seen = []

    def run(image):
        seen.append(image.copy())
        return image[:, :, 0].copy()

    engine.run = run
    return engine, seen


def test_predict_runs_on_the_size_rule_and_returns_that_grid():
    engine, seen = stand_in(flip=False)
    image = np.zeros((300, 150, 3), np.uint8)
    image[:, :75, 0] = 255
    out = engine.predict(image)
    assert len(seen) == 1 and seen[0].shape == (64, 32, 3) and seen[0].dtype == np.float32
    assert out.shape == (64, 32) and out.dtype == np.float32
    assert out[:, :15].min() == 1.0 and out[:, 17:].max() == 0.0


def test_flip_averages_the_mirrored_pass_mapped_back():
    engine, seen = stand_in(flip=True)
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out = engine.predict(image)
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[1], seen[0][:, ::-1])
    # the mirror of a mirror is the image; then the halo floor
    np.testing.assert_allclose(out, np.clip((seen[0][:, :, 0] - FLOOR) / (1 - FLOOR), 0, 1), atol=1e-6)


def test_the_halo_floor_zeroes_faint_values_and_keeps_the_range():
    engine, _ = stand_in(flip=False)
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :, 0] = np.linspace(0, 255, 64).astype(np.uint8)[None, :]
    out = engine.predict(image)
    red = image[0, :, 0] / 255.0
    assert out[0, red <= FLOOR].max() == 0.0 and out[0, red > FLOOR + 0.01].min() > 0.0
    assert out.max() == 1.0 and np.all(np.diff(out[0]) >= 0)


@requires_weights
def test_the_real_network_mattes_the_astronaut(modnet_engine, astronaut):
    from fusionmat.matting.pipeline import matte_image

    small = modnet_engine.predict(astronaut)
    assert small.shape == modnet_engine.input_size(512, 512) == (576, 576)
    alpha = matte_image(astronaut, modnet_engine)
    assert alpha.shape == (512, 512) and alpha.dtype == np.float32
    assert alpha[250:400, 150:300].mean() > 0.95  # her suit
    assert alpha[20:120, 420:500].mean() < 0.05   # the background at the top right
    soft = ((alpha > 0.05) & (alpha < 0.95)).mean()
    assert 0.002 < soft < 0.1  # a matte with soft edges, not a binary mask
