from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fusionmat.errors import ImageReadError
from fusionmat.io.read import checked_rgb, image_size, read_image, to_float


def gradient_rgb(h: int = 40, w: int = 60) -> np.ndarray:
    """An image whose every pixel differs, so orientation errors show."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4, y * 6, (x + y) * 2], axis=2).astype(np.uint8)


@pytest.mark.parametrize(
    "orientation, undo",
    [(3, lambda a: np.rot90(a, 2)), (6, lambda a: np.rot90(a, 1)), (8, lambda a: np.rot90(a, -1))],
)
def test_exif_orientation_applied(tmp_path, orientation, undo):
    upright = gradient_rgb()
    stored = undo(upright)  # pixels as a camera would store them for this tag
    im = Image.fromarray(np.ascontiguousarray(stored))
    exif = im.getexif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    im.save(path, exif=exif)
    got = read_image(path)
    assert got.shape == upright.shape
    np.testing.assert_allclose(got, upright / 255.0, atol=1e-6)
    assert image_size(path) == (upright.shape[1], upright.shape[0])  # from the header, turned alike


def test_rgb_float32_range(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(gradient_rgb()).save(path)
    got = read_image(path)
    assert got.dtype == np.float32 and got.shape == (40, 60, 3)
    assert 0.0 <= got.min() and got.max() <= 1.0


@pytest.mark.parametrize("mode", ["L", "RGBA", "LA", "P", "CMYK", "I;16", "1"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    base = Image.fromarray(gradient_rgb())
    if mode == "I;16":
        grey = (np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        im = Image.fromarray(grey)
        suffix = ".png"
    else:
        im = base.convert(mode)
        suffix = ".tif" if mode == "CMYK" else ".png"
    path = tmp_path / f"img{suffix}"
    im.save(path)
    got = read_image(path)
    assert got.shape == (40, 60, 3) and got.dtype == np.float32
    if mode in ("L", "I;16", "LA"):
        expected = np.asarray(base.convert("L"), dtype=np.float32) / 255.0
        np.testing.assert_allclose(got[:, :, 0], expected, atol=1 / 255 + 1e-6)
        np.testing.assert_array_equal(got[:, :, 0], got[:, :, 2])


def test_sixteen_bit_keeps_full_range(tmp_path):
    grey = np.linspace(0, 65535, 40 * 60).reshape(40, 60).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(grey).save(path)
    got = read_image(path)
    assert got.max() == pytest.approx(1.0) and got.min() == 0.0
    assert np.unique(got[:, :, 0]).size > 256  # more than 8 bits of levels survive


def test_transparency_composited_on_white(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    path = tmp_path / "clear.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    np.testing.assert_allclose(read_image(path), 1.0)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "not an image"),
        (b"this is not a picture\n", "not an image"),
    ],
)
def test_garbage_is_a_clear_error(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_jpeg(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.fromarray(gradient_rgb(200, 200)).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(ImageReadError, match="truncated"):
        read_image(path)


def test_missing_and_tiny(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.jpg")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    with pytest.raises(ImageReadError, match="1x1"):
        read_image(tiny)


def test_checked_rgb_names_bad_shape_and_clips_floats():
    with pytest.raises(ValueError, match="image must be HxWx3"):
        checked_rgb(np.zeros((4, 4)))
    assert checked_rgb(np.full((2, 2, 3), 1.5, np.float32)).max() == 1.0
    assert checked_rgb(np.full((2, 2, 3), 65535, np.uint16)).max() == 1.0


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "CMYK", "I;16"])
def test_eight_bit_reading_matches_the_float_one(tmp_path, mode):
    base = Image.fromarray(gradient_rgb())
    im = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257) if mode == "I;16" else base.convert(mode)
    path = tmp_path / ("img.tif" if mode == "CMYK" else "img.png")
    im.save(path)
    eight = read_image(path, dtype=np.uint8)
    assert eight.dtype == np.uint8 and eight.shape == (40, 60, 3)
    np.testing.assert_allclose(eight / 255.0, read_image(path), atol=0.5 / 255 + 1e-6)


def test_eight_bit_reading_applies_exif_orientation(tmp_path):
    upright = gradient_rgb()
    im = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(tmp_path / "p.png", exif=exif)
    np.testing.assert_array_equal(read_image(tmp_path / "p.png", dtype=np.uint8), upright)


def test_read_image_refuses_other_types(tmp_path):
    with pytest.raises(ValueError, match="dtype"):
        read_image(tmp_path / "x.png", dtype=np.float64)


def test_checked_rgb_keeps_eight_bit_photos_and_to_float_scales_them():
    photo = gradient_rgb()
    assert checked_rgb(photo) is photo
    assert checked_rgb(photo.astype(np.float32) / 255).dtype == np.float32
    np.testing.assert_allclose(to_float(photo), photo / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match="photo must be HxWx3"):
        checked_rgb(np.zeros((3, 3)), "photo")


def test_decompression_bombs_are_refused_whatever_the_warning_filters(tmp_path):
    """Pillow only warns between one and two times its pixel limit; the refusal must not depend on
    the process's warning filters, which other threads change."""
    import warnings

    from PIL import Image as PILImage

    bomb = tmp_path / "bomb.png"
    PILImage.new("1", (13000, 13000)).save(bomb)  # 169 MP: 1.9 times the limit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImageReadError, match="too many pixels"):
            read_image(bomb, dtype=np.uint8)
        from fusionmat.io.read import read_matte

        with pytest.raises(ImageReadError, match="too many pixels"):
            read_matte(bomb)


def test_image_size_reads_the_header_only_and_refuses_as_read_image(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (4000, 3000)).save(path)
    Image.new("L", (1, 1)).save(tmp_path / "tiny.png")
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))
    assert image_size(path) == (4000, 3000)
    monkeypatch.undo()
    with pytest.raises(ImageReadError, match="1x1, smaller than"):
        image_size(tmp_path / "tiny.png")
    (tmp_path / "text.png").write_text("not a photo")
    with pytest.raises(ImageReadError, match="not an image"):
        image_size(tmp_path / "text.png")
