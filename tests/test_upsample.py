"""Bringing an engine's matte to full size: guided (edges follow the photo) or bilinear."""
from __future__ import annotations

import numpy as np
import pytest

from fusionmat.matting.resize import resize_to
from fusionmat.matting.upsample import upsample_matte


def step_photo(size: int = 256, edge: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """A photo that is dark left of column ``edge`` and light right of it, and its true matte."""
    image = np.full((size, size, 3), 0.15, np.float32)
    image[:, edge:] = 0.85
    truth = np.zeros((size, size), np.float32)
    truth[:, edge:] = 1.0
    return image, truth


def test_guided_upsampling_puts_the_edge_on_the_photo_s_edge():
    image, truth = step_photo()
    small = resize_to(truth, 64, 64)
    guided = upsample_matte(image, small, "guided")
    bilinear = upsample_matte(image, small, "bilinear")
    assert guided.shape == bilinear.shape == (256, 256) and guided.dtype == np.float32
    assert 0.0 <= guided.min() and guided.max() <= 1.0
    assert np.abs(guided - truth).sum() * 3 < np.abs(bilinear - truth).sum()


def test_uint8_guide_gives_the_float_result():
    image, truth = step_photo()
    small = resize_to(truth, 64, 64)
    as_uint8 = upsample_matte((image * 255).round().astype(np.uint8), small, "guided")
    np.testing.assert_allclose(as_uint8, upsample_matte(image, small, "guided"), atol=0.02)  # 8-bit guide rounding


def test_a_matte_of_the_right_size_is_returned_and_an_unknown_method_refused():
    image, truth = step_photo(32, 10)
    assert upsample_matte(image, truth, "guided") is truth
    with pytest.raises(ValueError, match="upsample method"):
        upsample_matte(image, truth[:16, :16], "bicubic")
