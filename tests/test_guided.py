from __future__ import annotations

import cv2
import numpy as np
import pytest

import fusionmat.matting.guided as guided
from fusionmat.matting.guided import guided_coefficients, guided_upsample, resize_rows


def shrink(x: np.ndarray, h: int, w: int) -> np.ndarray:
    return cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("top,bottom", [(0, 50), (100, 200), (290, 333)])
def test_resize_rows_is_a_slice_of_the_full_resize(top, bottom):
    small = np.random.default_rng(0).random((37, 23, 3)).astype(np.float32)
    full = cv2.resize(small, (101, 333), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(resize_rows(small, 333, 101, top, bottom), full[top:bottom], atol=1e-3)


def test_a_source_linear_in_the_guide_is_reproduced_at_full_size(astronaut):
    image = astronaut.astype(np.float32) / 255.0
    truth = 0.5 * image[:, :, 0] - 0.25 * image[:, :, 2] + 0.2
    small_image = shrink(image, 160, 160)
    small_truth = 0.5 * small_image[:, :, 0] - 0.25 * small_image[:, :, 2] + 0.2
    a, b = guided_coefficients(small_image, small_truth, radius=1, eps=1e-6)
    textured = np.abs(cv2.Laplacian(small_image.mean(2), cv2.CV_32F)) > 0.05
    np.testing.assert_allclose(a[textured].mean(0), [0.5, 0.0, -0.25], atol=0.1)
    out = guided_upsample(image, small_image, small_truth, radius=1, eps=1e-6)
    assert np.abs(out - truth).mean() < 0.01


def test_edges_follow_the_full_size_photo_not_the_small_grid():
    h, w = 240, 320
    x = np.arange(w)[None, :].repeat(h, 0)
    truth = (x >= 161).astype(np.float32)  # a hard edge between two small-grid pixels
    image = np.where(truth[:, :, None] > 0, [0.9, 0.6, 0.3], [0.1, 0.3, 0.7]).astype(np.float32)
    small_image, small_matte = shrink(image, 60, 80), shrink(truth, 60, 80)
    bilinear = cv2.resize(small_matte, (w, h), interpolation=cv2.INTER_LINEAR)
    guided_out = guided_upsample(image, small_image, small_matte)
    bilinear_error = np.abs(bilinear - truth).sum()
    guided_error = np.abs(np.clip(guided_out, 0, 1) - truth).sum()
    assert guided_error < 0.2 * bilinear_error, (guided_error, bilinear_error)


def test_bands_of_rows_and_uint8_guides_give_the_same_result(astronaut, monkeypatch):
    small_image = shrink(astronaut.astype(np.float32) / 255.0, 128, 128)
    small_matte = (small_image[:, :, 0] > 0.5).astype(np.float32)
    whole = guided_upsample(astronaut, small_image, small_matte)
    monkeypatch.setattr(guided, "BAND_ROWS", 7)
    in_bands = guided_upsample(astronaut.astype(np.float32) / 255.0, small_image, small_matte)
    assert whole.shape == (512, 512) and whole.dtype == np.float32
    np.testing.assert_allclose(in_bands, whole, atol=1e-4)
