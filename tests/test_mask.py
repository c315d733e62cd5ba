"""Mask controls (threshold, erode, dilate, feather, trim) on synthetic mattes whose answer is known,
and on every surface that takes them."""
from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.matting.mask import MaskSettings, apply_mask, masked, parse_mask, subject_box
from tests.conftest import requires_weights


def square(size: int = 41, side: int = 21) -> np.ndarray:
    alpha = np.zeros((size, size), np.float32)
    start = (size - side) // 2
    alpha[start:start + side, start:start + side] = 1.0
    return alpha


def test_threshold_makes_a_hard_mask():
    alpha = np.array([[0.2, 0.5, 0.8]], np.float32)
    np.testing.assert_array_equal(apply_mask(alpha, MaskSettings(threshold=0.5)), [[0.0, 1.0, 1.0]])


def test_erode_and_dilate_move_the_edge_by_their_pixels():
    eroded = apply_mask(square(), MaskSettings(erode=2))
    assert eroded.sum() == 17 * 17  # a square shrinks by 2 on each side
    dilated = apply_mask(square(), MaskSettings(dilate=3))
    rows, cols = np.nonzero(dilated)
    assert rows.min() == 10 - 3 and rows.max() == 30 + 3 and cols.min() == 10 - 3
    assert dilated[7, 7] == 0 and dilated[7, 20] == 1  # a disc: the corners round off


def test_feather_softens_a_hard_edge_symmetrically():
    step = np.zeros((9, 40), np.float32)
    step[:, 20:] = 1.0
    soft = apply_mask(step, MaskSettings(feather=8))[4]
    assert np.all(np.diff(soft) >= -1e-6) and soft[0] < 0.01 and soft[-1] > 0.99
    assert abs(soft[19] + soft[20] - 1.0) < 1e-4  # the edge stays where it was
    assert 0.05 < soft[16] < 0.3 and 0.7 < soft[23] < 0.95  # softened over a few pixels


def test_controls_apply_in_the_documented_order():
    ramp = np.tile(np.linspace(0, 1, 21, dtype=np.float32), (5, 1))
    # threshold first: the hard edge at 0.5 is then moved out by dilation
    out = apply_mask(ramp, MaskSettings(threshold=0.5, dilate=2))
    assert out[2].tolist() == [0.0] * 8 + [1.0] * 13


def test_trim_crops_to_the_subject_with_its_margin_inside_the_image():
    alpha = square()
    box = subject_box(alpha, 5)
    assert (box.x, box.y, box.width, box.height) == (5, 5, 31, 31)
    assert subject_box(alpha, 100) == subject_box(alpha, 20)  # clipped to the image
    assert subject_box(np.zeros((5, 5), np.float32), 3) is None
    rgb = np.zeros((41, 41, 3), np.uint8)
    shown_rgb, shown = masked(rgb, alpha, MaskSettings(trim=0))
    assert shown.shape == (21, 21) and shown_rgb.shape == (21, 21, 3) and shown.min() == 1


@pytest.mark.parametrize("given, words", [
    ({"threshold": "1"}, "threshold must be a number between 0 and 1"),
    ({"threshold": "nan"}, "threshold must be"),
    ({"erode": "-1"}, "erode must be a whole number of pixels from 0 to 500"),
    ({"dilate": "2.5"}, "dilate must be a whole number"),
    ({"feather": "inf"}, "feather must be a number of pixels"),
    ({"trim": "x"}, "trim must be a whole number of pixels from 0 to 10000"),
])
def test_bad_values_name_their_option(given, words):
    with pytest.raises(ValueError, match=words):
        parse_mask(given)


def test_nothing_asked_is_no_settings():
    assert parse_mask({"threshold": None}) is None
    assert parse_mask({"feather": "2", "trim": "0"}) == MaskSettings(feather=2.0, trim=0)


@pytest.fixture
def photo(tmp_path, astronaut):
    path = tmp_path / "a.png"
    Image.fromarray(astronaut).resize((160, 160)).save(path)
    return path


@requires_weights
def test_predict_writes_a_hard_trimmed_matte_and_batch_redoes_on_a_new_mask(tmp_path, photo):
    runner = CliRunner()
    result = runner.invoke(main, ["predict", str(photo), "--engine", "selfie", "-o", str(tmp_path / "o"),
                                  "--threshold", "0.5", "--trim", "4", "--cutout"])
    assert result.exit_code == 0, result.output
    matte = np.asarray(Image.open(tmp_path / "o" / "a_matting.png"))
    cut = Image.open(tmp_path / "o" / "a_cutout.png")
    assert set(np.unique(matte)) == {0, 255} and matte.shape[::-1] == cut.size and matte.shape != (160, 160)
    src = photo.parent
    first = runner.invoke(main, ["batch", str(src), "--engine", "selfie", "--out", str(tmp_path / "b"), "-q"])
    again = runner.invoke(main, ["batch", str(src), "--engine", "selfie", "--out", str(tmp_path / "b"),
                                 "--feather", "3", "--json", "-"])
    assert first.exit_code == again.exit_code == 0
    assert "a.png" in " ".join(__import__("json").loads(again.stdout)["done"])  # the mask is in the stamp


@requires_weights
def test_the_server_takes_the_mask_parameters():
    from starlette.testclient import TestClient

    from fusionmat.serve.app import ServeSettings, create_app

    buffer = io.BytesIO()
    from skimage import data

    Image.fromarray(data.astronaut()).resize((160, 160)).save(buffer, format="PNG")
    with TestClient(create_app(ServeSettings(engine="selfie")), base_url="http://localhost") as client:
        hard = client.post("/api/matte", params={"output": "matte", "threshold": "0.5", "trim": "0"},
                           content=buffer.getvalue())
        bare = client.post("/api/matte?output=matte&trim", content=buffer.getvalue())  # as a bare --trim
        bad = client.post("/api/matte", params={"erode": "-2"}, content=buffer.getvalue())
    matte = np.asarray(Image.open(io.BytesIO(hard.content)))
    assert hard.status_code == 200 and set(np.unique(matte)) == {0, 255} and matte.shape != (160, 160)
    assert bad.status_code == 400 and "erode must be" in bad.json()["error"]
    assert Image.open(io.BytesIO(bare.content)).size != (160, 160)


def test_video_refuses_trim_and_takes_the_others():
    result = CliRunner().invoke(main, ["video", "clip.mp4", "--trim", "3"])
    assert result.exit_code == 2 and "--trim: is for photos: a video keeps one frame size" in result.output
    assert "--feather" in CliRunner().invoke(main, ["video", "--help"]).output
