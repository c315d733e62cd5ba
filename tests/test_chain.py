from __future__ import annotations

import numpy as np
import pytest

from fusionmat.engines.base import Engine
from fusionmat.matting.pipeline import matte_image
from fusionmat.preprocess.chain import (
    NOTHING,
    Preprocessor,
    Settings,
    auto_angle,
    invert,
    parse_aspect,
    parse_crop,
    parse_rotate,
)
from tests.conftest import requires_weights


class BrightnessEngine(Engine):
    """Stand-in engine whose 'probability' is the red channel: a matte that must land back in place."""

    name = "brightness"
    refine = "none"

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def predict(self, image):
        self.seen.append(image.shape[:2])
        return image[..., 0].copy()


def disk_image(h: int = 150, w: int = 110) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    disk = np.clip((30 - np.hypot(yy - 60, xx - 50)) / 4 + 0.5, 0, 1).astype(np.float32)
    return np.stack([disk, disk * 0.5, np.zeros_like(disk)], axis=-1)


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("none", "none"), ("-90", -90.0), ("12.5", 12.5)])
def test_parse_rotate(text, value):
    assert parse_rotate(text) == value


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("10,20,30,40", (10, 20, 30, 40))])
def test_parse_crop(text, value):
    assert parse_crop(text) == value


@pytest.mark.parametrize("parse, text", [(parse_rotate, "left"), (parse_crop, "1,2,3"), (parse_crop, "0,0,0,5"),
                                         (parse_crop, "a,b,c,d"), (parse_aspect, "auto"), (parse_aspect, "wide")])
def test_parse_rejects(parse, text):
    with pytest.raises(ValueError):
        parse(text)


@pytest.mark.parametrize("tilt, angle", [(None, 0.0), (4.0, 0.0), (-9.9, 0.0), (12.0, 12.0), (-30.0, -30.0),
                                         (93.0, 90.0), (178.0, 180.0), (-85.0, -90.0), (-120.0, -120.0)])
def test_auto_angle_keeps_quarter_turns_and_large_tilts(tilt, angle):
    assert auto_angle(tilt) == pytest.approx(angle)


@pytest.mark.parametrize("settings", [
    Settings(rotate=35.0, crop="none", aspect="none"),
    Settings(rotate=-90.0, crop=(40, 5, 100, 100), aspect="none"),
    Settings(rotate="none", crop="none", aspect=(4.0, 3.0)),
    Settings(rotate=-20.0, crop=(0, 0, 120, 140), aspect=(3.0, 4.0)),
])
def test_chain_maps_the_matte_back_onto_the_input(settings):
    image = disk_image()
    engine = BrightnessEngine()
    alpha = matte_image(image, engine, preprocessor=Preprocessor(settings))
    assert alpha.shape == image.shape[:2]
    assert engine.seen[0] != image.shape[:2]  # the engine really saw a transformed image
    assert np.abs(alpha - image[..., 0]).mean() < 0.01
    assert np.abs(alpha - image[..., 0]).max() < 0.4


def test_steps_are_reported_in_order_and_invert_as_one():
    image = disk_image()
    steps = Preprocessor(Settings(rotate=90.0, crop=(0, 0, 100, 100), aspect=(110.0, 150.0))).steps(image)
    assert [s.step for s in steps] == ["aspect", "rotate", "crop"]
    assert not steps[0].changed and steps[1].changed and steps[2].changed
    back = invert(steps)(steps[-1].image[..., 0])
    np.testing.assert_array_equal(back[10:, :100], image[10:, :100, 0])  # exact: quarter turn and crop only


def test_nothing_settings_need_no_detector():
    assert Preprocessor(NOTHING).detectors == {}


@requires_weights
def test_auto_chain_crops_a_small_subject_and_leaves_a_big_one(astronaut):
    from skimage import data

    from fusionmat.matting.resize import resize_to

    chain = Preprocessor(Settings())
    big = astronaut.astype(np.float32) / 255
    assert chain.steps(big) == [] or not any(s.changed for s in chain.steps(big))
    scene = resize_to(data.coffee().astype(np.float32) / 255, 512, 512)
    scene[307:, 200:405] = resize_to(big, 205, 205)
    steps = [s for s in chain.steps(scene) if s.changed]
    assert [s.step for s in steps] == ["crop"]
    assert steps[0].image.shape[0] * steps[0].image.shape[1] < 0.6 * 512 * 512


@requires_weights
def test_rotate_and_crop_share_one_detection_view_when_nothing_turns(astronaut, monkeypatch):
    import fusionmat.preprocess.chain as chain_module

    made = []
    real = chain_module.detection_view
    monkeypatch.setattr(chain_module, "detection_view", lambda image: made.append(image.shape) or real(image))
    chain = Preprocessor(Settings())
    chain.steps(astronaut.astype(np.float32) / 255)  # upright: the crop reuses rotate's view
    assert made == [(512, 512, 3)]
    made.clear()
    chain.steps(np.ascontiguousarray(np.rot90(astronaut)).astype(np.float32) / 255)  # turned: a new view
    assert len(made) == 2


def test_an_engine_that_wants_quarter_turns_gets_no_smaller_turn():
    import math

    from fusionmat.engines.base import Engine
    from fusionmat.preprocess.chain import Settings, auto_angle
    from fusionmat.run.batch import SessionSpec

    assert auto_angle(30.0, math.inf) == 0.0 and auto_angle(100.0, math.inf) == 90.0
    assert auto_angle(-80.0, math.inf) == -90.0 and auto_angle(30.0) == 30.0

    class QuarterTurns(Engine):
        name, tilt = "quarters", False

        def predict(self, image):
            return image[..., 0]

    session = SessionSpec(preprocess=Settings(rotate="auto", crop="none")).build(QuarterTurns())
    assert session.preprocessor.tilt is False
