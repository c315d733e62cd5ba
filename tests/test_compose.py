from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.outputs.compose import Background, composite, fit_background, parse_background
from tests.conftest import SHARED, requires_shared, requires_weights


@pytest.mark.parametrize("spec, expected", [
    ("#ff8000", Background(colour=(1.0, 128 / 255, 0.0))),
    ("#fff", Background(colour=(1.0, 1.0, 1.0))),
    ("white", Background(colour=(1.0, 1.0, 1.0))),
    ("black", Background(colour=(0.0, 0.0, 0.0))),
    ("#00ff0080", Background(colour=(0.0, 1.0, 0.0), opacity=128 / 255)),
    ("transparent", Background(colour=(0.0, 0.0, 0.0), opacity=0.0)),
    ("blur", Background(blur=25.0)),
    ("blur:40", Background(blur=40.0)),
])
def test_parse_background(spec, expected):
    assert parse_background(spec) == expected


def test_parse_background_file():
    assert parse_background("beach.jpg").path.name == "beach.jpg"


def test_an_existing_file_named_like_a_colour_is_a_picture(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (4, 4)).save(tmp_path / "white", format="PNG")
    assert parse_background("white").path.name == "white"


def test_translucent_composite_is_the_over_operator():
    from fusionmat.outputs.compose import composite_translucent

    fg = np.full((1, 3, 3), 0.8, np.float32)
    alpha = np.array([[0.0, 0.5, 1.0]], np.float32)
    rgba = composite_translucent(fg, alpha, (0.0, 0.0, 1.0), 0.5)
    np.testing.assert_allclose(rgba[0, :, 3], [0.5, 0.75, 1.0])
    np.testing.assert_allclose(rgba[0, 0, :3], [0.0, 0.0, 1.0])  # only the colour there
    np.testing.assert_allclose(rgba[0, 2, :3], [0.8, 0.8, 0.8])  # only the subject there
    cut = composite_translucent(fg, alpha, (1.0, 0.0, 0.0), 0.0)  # transparent: the cut-out
    np.testing.assert_allclose(cut[0, :, 3], alpha[0])
    np.testing.assert_allclose(cut[0, 1:, :3], fg[0, 1:])


@pytest.mark.parametrize("spec", ["#ff800", "#gggggg", "blur:0", "blur:x"])
def test_parse_background_rejects(spec):
    with pytest.raises(ValueError):
        parse_background(spec)


def halves(h=100, w=200):
    """A picture whose left half is black and right half white."""
    picture = np.zeros((h, w, 3), np.float32)
    picture[:, w // 2:] = 1.0
    return picture


def test_cover_fills_the_frame_and_crops_the_centre():
    fitted = fit_background(halves(), 100, 100, "cover")
    assert fitted.shape == (100, 100, 3)
    assert fitted[:, :45].max() == 0 and fitted[:, 55:].min() == 1  # the middle of the picture, no bars


def test_contain_keeps_the_whole_picture_and_pads():
    fitted = fit_background(halves(), 200, 200, "contain")
    assert fitted.shape == (200, 200, 3)
    np.testing.assert_allclose(fitted[:40], 0.5)  # padding in the mean colour
    assert fitted[100, 5].max() == 0 and fitted[100, 195].min() == 1


@pytest.mark.parametrize("fit", ["cover", "contain", "stretch"])
def test_an_8_bit_picture_is_fitted_as_a_float_one(fit):
    eight = (halves() * 200 + 20).astype(np.uint8)  # 20 and 220: neither end of the range
    fitted = fit_background(eight, 60, 90, fit)
    assert fitted.dtype == np.float32
    np.testing.assert_allclose(fitted, fit_background(eight.astype(np.float32) / 255, 60, 90, fit), atol=1 / 255)


def test_stretch_ignores_the_ratio():
    fitted = fit_background(halves(), 50, 50, "stretch")
    assert fitted[:, :24].max() == 0 and fitted[:, 26:].min() == 1


def test_composite_formula():
    fg, bg = np.full((2, 2, 3), 0.8, np.float32), np.full((2, 2, 3), 0.2, np.float32)
    alpha = np.array([[0, 0.25], [0.5, 1]], np.float32)
    np.testing.assert_allclose(composite(fg, alpha, bg)[..., 0], 0.2 + 0.6 * alpha, atol=1e-6)


def dehalo_errors(image, alpha, true_fg, colour=(0.0, 0.69, 0.25)):
    """Soft-band error against the exact composite on a flat colour: (raw pixels, estimated foreground)."""
    from fusionmat.evaluate.metrics import soft_band_error
    from fusionmat.matting.foreground import estimate_foreground

    flat = np.broadcast_to(np.asarray(colour, np.float32), image.shape)
    exact = composite(true_fg, alpha, flat)
    return (soft_band_error(composite(image, alpha, flat), exact, alpha),
            soft_band_error(composite(estimate_foreground(image, alpha), alpha, flat), exact, alpha))


def test_dehalo_on_synthetic_hair():
    """Red strands with soft edges over a blue background, moved onto green: no blue fringe."""
    rng = np.random.default_rng(3)
    h, w = 120, 160
    xx = np.arange(w)[None, :]
    alpha = np.zeros((h, w), np.float32)
    for centre in rng.uniform(10, w - 10, 12):
        alpha = np.maximum(alpha, np.clip(1.0 - np.abs(xx - centre) / 3.0, 0, 1).repeat(h, 0))
    alpha[: h // 3] = 1.0
    fg = np.broadcast_to(np.array([0.8, 0.2, 0.1], np.float32), (h, w, 3))
    bg = np.broadcast_to(np.array([0.1, 0.2, 0.9], np.float32), (h, w, 3))
    image = composite(fg, alpha, bg)
    raw, estimated = dehalo_errors(image, alpha, fg)
    assert estimated < 0.5 * raw


@requires_shared
def test_dehalo_on_the_plain_benchmark():
    """Issue 5's check: with the true matte, the soft-band error is at least 50 % below raw pixels'."""
    from fusionmat.io.read import read_image

    bench = SHARED / "bench" / "plain"
    rows = []
    for entry in json.loads((bench / "index.json").read_text()):
        image, true_fg = read_image(bench / entry["image"]), read_image(bench / entry["fg"])
        rows.append(dehalo_errors(image, read_image(bench / entry["alpha"])[..., 0], true_fg))
    raw, estimated = np.mean(rows, axis=0)
    assert estimated <= 0.5 * raw, (raw, estimated)


def test_compose_with_a_given_matte_runs_no_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path / "empty"))  # no model files at all
    image = np.zeros((60, 80, 3), np.uint8)
    image[:, :40] = (200, 50, 50)
    Image.fromarray(image).save(tmp_path / "photo.png")
    matte = np.zeros((60, 80), np.uint8)
    matte[:, :40] = 255
    Image.fromarray(matte).save(tmp_path / "photo_matting.png")
    args = ["compose", str(tmp_path / "photo.png"), "--bg", "#0000ff", "--matte", str(tmp_path / "photo_matting.png"),
            "--format", "png"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(tmp_path / "photo_composite.png"))
    assert tuple(out[30, 10]) == (200, 50, 50) and tuple(out[30, 70]) == (0, 0, 255)


def test_compose_refuses_a_matte_of_another_size(tmp_path):
    Image.new("RGB", (80, 60)).save(tmp_path / "photo.png")
    Image.new("L", (40, 30)).save(tmp_path / "m.png")
    result = CliRunner().invoke(main, ["compose", str(tmp_path / "photo.png"), "--bg", "#000000",
                                       "--matte", str(tmp_path / "m.png")])
    assert result.exit_code == 1 and "matte is 40x30, the photo is 80x60" in result.output


def test_compose_matte_needs_one_image(tmp_path):
    result = CliRunner().invoke(main, ["compose", "a.png", "b.png", "--bg", "#000000", "--matte", "m.png"])
    assert result.exit_code == 2 and "exactly one IMAGE" in result.output


@requires_weights
@pytest.mark.parametrize("bg", ["picture", "blur:30"])
def test_compose_on_a_picture_and_on_blur(tmp_path, astronaut, bg):
    Image.fromarray(astronaut).save(tmp_path / "astro.png")
    if bg == "picture":
        Image.fromarray(np.full((300, 900, 3), (0, 255, 0), np.uint8)).save(tmp_path / "green.png")
        bg = str(tmp_path / "green.png")
    result = CliRunner().invoke(main, ["compose", str(tmp_path / "astro.png"), "--bg", bg])
    assert result.exit_code == 0, result.output
    out = np.asarray(Image.open(tmp_path / "astro_composite.jpg")).astype(int)
    assert out.shape == (512, 512, 3)
    assert np.abs(out[100:160, 190:260] - astronaut[100:160, 190:260]).mean() < 12  # her face kept
    corner = np.abs(out[:40, :40] - astronaut[:40, :40]).mean()
    assert corner > 40  # the background around her changed


@requires_weights
def test_compose_never_lets_two_photos_share_one_output(tmp_path, astronaut):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        Image.fromarray(astronaut).resize((128, 128)).save(tmp_path / folder / "x.png")
    args = ["compose", str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png"), "--bg", "#000000",
            "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "would overwrite those of" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_composite.jpg"]


def test_wide_blur_on_a_shrunk_copy_matches_the_full_size_blur():
    import cv2

    from fusionmat.outputs.compose import blurred_background

    rng = np.random.default_rng(0)
    image = cv2.resize(rng.random((30, 40, 3)).astype(np.float32), (800, 600))
    image += 0.2 * rng.random(image.shape).astype(np.float32)
    fast = blurred_background(image, 25)  # sigma 20 px: done at a fifth of the size
    exact = cv2.GaussianBlur(image, (0, 0), 20.0)
    assert fast.shape == image.shape
    assert np.abs(fast - exact).mean() < 0.005 and np.abs(fast - exact).max() < 0.05
