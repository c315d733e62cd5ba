"""The rvm engine (Robust Video Matting through onnxruntime) and its recurrent state."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.conftest import requires_weights


@pytest.fixture(scope="module")
def rvm():
    from fusionmat.engines import load_engine

    return load_engine("rvm", threads=2)


@pytest.fixture(scope="module")
def portrait(astronaut):
    return np.asarray(Image.fromarray(astronaut).resize((320, 240)))


def test_the_engine_declares_quarter_turns_and_a_recurrent_state():
    from fusionmat.engines import engine_class

    cls = engine_class("rvm")
    assert cls.recurrent and not cls.tilt and cls.upsample == "guided" and cls.refine == "none"
    assert "rvm_mobilenetv3_fp32.onnx" in cls.files
    with pytest.raises(ValueError, match="encoder_side"):
        cls.parse_options({"encoder_side": "12"})


@requires_weights
def test_a_portrait_is_matted_on_its_own_grid_and_nobody_is_an_empty_matte(rvm, portrait):
    alpha = rvm.predict(portrait)
    assert alpha.shape == (240, 320) and alpha.dtype == np.float32
    assert 0 <= alpha.min() and alpha.max() <= 1 and (alpha > 0.5).mean() > 0.2
    assert not rvm.predict(np.full((240, 320, 3), 128, np.uint8)).any()  # the person check


@requires_weights
def test_large_photos_are_matted_on_a_grid_of_max_side(rvm):
    assert rvm.input_size(3000, 4000) == (1536, 2048) and rvm.input_size(600, 800) == (600, 800)
    assert rvm.ratio(720, 1280) == 1024 / 1280


@requires_weights
def test_a_stream_carries_the_state_and_a_cut_forgets_it(rvm, portrait):
    still = rvm.predict(portrait)
    with rvm.stream():
        assert rvm.ratio(720, 1280) == 640 / 1280  # video frames: the video side
        first = rvm.predict(portrait)
        second = rvm.predict(portrait)  # the same frame again, with what the first one left
        rvm.cut()
        after_cut = rvm.predict(portrait)
    assert np.abs(second - first).max() > 1e-3
    np.testing.assert_allclose(after_cut, first, atol=1e-5)
    np.testing.assert_allclose(rvm.predict(portrait), still, atol=1e-5)  # outside: a still again


@requires_weights
def test_on_video_someone_who_walks_in_after_an_empty_first_frame_is_matted(rvm, portrait):
    with rvm.stream():
        assert not rvm.predict(np.full((240, 320, 3), 128, np.uint8)).any()  # nobody yet
        assert (rvm.predict(portrait) > 0.5).mean() > 0.2  # looked for again on the next frame


def test_numbers_given_to_load_engine_are_checked_as_their_text_is():
    from fusionmat.engines import engine_class

    rvm_class, modnet_class = engine_class("rvm"), engine_class("modnet")
    for bad in ({"warm": 9}, {"warm": -1}, {"encoder_side": 0}, {"max_side": 10}, {"encoder_side": True}):
        with pytest.raises(ValueError, match="engine option"):
            rvm_class.parse_options(bad)
    with pytest.raises(ValueError, match="multiple of 32"):
        modnet_class.parse_options({"long_side": 33})
    assert rvm_class.parse_options({"warm": 2, "people_only": False}) == {"warm": 2, "people_only": False}
    assert engine_class("latefusion").parse_options({"size": (96, 64)}) == {"size": (96, 64)}  # as given
