"""The fusion engine: MODNet and RVM combined by how sure each is."""
from __future__ import annotations

import numpy as np
from PIL import Image

from fusionmat.engines.fusion import fuse
from tests.conftest import requires_weights


def test_where_both_agree_the_fused_matte_is_theirs():
    a = np.array([0.0, 0.25, 0.5, 1.0], np.float32)
    np.testing.assert_allclose(fuse(a, a, a), a, atol=1e-6)


def test_the_surer_network_decides_and_the_rule_is_symmetric():
    sure, unsure, person = np.array([0.95], np.float32), np.array([0.55], np.float32), np.array([0.5], np.float32)
    fused = fuse(sure, unsure, person)
    assert abs(fused[0] - 0.95) < abs(fused[0] - 0.55)  # nearer the sure one than the mean would be
    assert fused[0] > 0.5 * (0.95 + 0.55)
    np.testing.assert_allclose(fuse(unsure, sure, person), fused)
    half = np.array([0.5], np.float32)
    np.testing.assert_allclose(fuse(half, half, person), [0.5])


def test_where_they_disagree_the_person_segmentation_picks_one_not_a_grey_half():
    modnet, rvm = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)
    person = np.array([0.9, 0.1], np.float32)  # a person at the first pixel, none at the second
    np.testing.assert_allclose(fuse(modnet, rvm, person), [1.0, 0.0])
    np.testing.assert_allclose(fuse(rvm, modnet, person), [1.0, 0.0])


def test_the_fused_matte_stays_in_range():
    rng = np.random.default_rng(0)
    a, b, p = rng.random((3, 50, 50), dtype=np.float32)
    fused = fuse(a, b, p)
    assert fused.dtype == np.float32 and 0 <= fused.min() and fused.max() <= 1
    assert np.all(fused >= np.minimum(a, b) - 1e-6) and np.all(fused <= np.maximum(a, b) + 1e-6)


@requires_weights
def test_a_portrait_is_fused_on_rvms_grid_and_nobody_is_an_empty_matte(astronaut):
    from fusionmat.engines import load_engine

    engine = load_engine("fusion", threads=2)
    portrait = np.asarray(Image.fromarray(astronaut).resize((320, 240)))
    alpha = engine.predict(portrait)
    assert alpha.shape == engine.input_size(240, 320) == (240, 320)
    assert (alpha > 0.5).mean() > 0.2 and alpha.max() <= 1
    assert not engine.predict(np.full((240, 320, 3), 128, np.uint8)).any()
    assert not engine.tilt and engine.settings()["engine"] == "fusion"
