from __future__ import annotations

import numpy as np
import pytest

from fusionmat.matting.refine import NoSubjectWarning, estimate_alpha_band, no_refinement, trimap_from_probability


def soft_disk(h: int = 160, w: int = 200, radius: float = 50.0, ramp: float = 8.0) -> np.ndarray:
    """A disk whose edge falls from 1 to 0 linearly over ``ramp`` pixels."""
    y, x = np.mgrid[0:h, 0:w]
    r = np.hypot(y - h / 2, x - w / 2)
    return np.clip((radius + ramp / 2 - r) / ramp, 0.0, 1.0).astype(np.float32)


def composite(alpha: np.ndarray, seed: int = 0) -> np.ndarray:
    """alpha*F + (1-alpha)*B with smooth, distinct foreground and background colours."""
    h, w = alpha.shape
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    fg = np.stack([0.8 + 0.1 * x, 0.3 + 0.1 * y, 0.2 + 0 * x], axis=2)
    bg = np.stack([0.1 + 0 * x, 0.4 + 0.2 * x, 0.9 - 0.1 * y], axis=2)
    return (alpha[..., None] * fg + (1 - alpha[..., None]) * bg).astype(np.float32)


def test_trimap_band_width():
    prob = np.zeros((50, 50), np.float32)
    prob[:, 25:] = 1.0
    tri = trimap_from_probability(prob, band=3)
    row = tri[10]
    assert (row[:22] == 0).all() and (row[28:] == 1).all()
    assert (row[22:28] == 0.5).all()


def test_refinement_recovers_a_known_soft_edge():
    alpha = soft_disk()
    image = composite(alpha)
    hard = (alpha > 0.5).astype(np.float32)  # what a segmentation network would give
    refined = estimate_alpha_band(image, hard, work_size=512, band=6)
    edge = (alpha > 0.02) & (alpha < 0.98)
    before = np.abs(hard - alpha)[edge].mean()
    after = np.abs(refined - alpha)[edge].mean()
    assert after < 0.35 * before, (before, after)
    assert np.abs(refined - alpha).max() < 0.2


def test_refinement_at_reduced_working_size_keeps_grid():
    alpha = soft_disk(300, 420, radius=100, ramp=12)
    image = composite(alpha)
    refined = estimate_alpha_band(image, (alpha > 0.5).astype(np.float32), work_size=256, band=4)
    assert refined.shape == alpha.shape and refined.dtype == np.float32
    assert np.abs(refined - alpha).mean() < 0.02


def test_no_subject_gives_empty_matte_and_warning():
    image = np.full((40, 40, 3), 0.5, np.float32)
    with pytest.warns(NoSubjectWarning, match="no person found"):
        out = estimate_alpha_band(image, np.zeros((40, 40), np.float32))
    assert out.shape == (40, 40) and not out.any()
    with pytest.warns(NoSubjectWarning):
        assert not no_refinement(image, np.zeros((40, 40), np.float32)).any()


def test_whole_frame_foreground_does_not_crash():
    image = np.full((40, 40, 3), 0.5, np.float32)
    out = estimate_alpha_band(image, np.ones((40, 40), np.float32))
    assert out.min() == pytest.approx(1.0)


def test_solving_on_the_unknown_band_box_equals_solving_everywhere():
    from pymatting import estimate_alpha_cf

    from fusionmat.matting.refine import solve_in_band

    alpha = soft_disk(120, 160, radius=30, ramp=6)
    image = composite(alpha).astype(np.float64)
    trimap = trimap_from_probability(alpha, band=4)
    whole = estimate_alpha_cf(image, trimap)
    boxed = solve_in_band(image, trimap)
    assert (trimap[:20] == 0).all()  # the box leaves rows out, so the crop is exercised
    np.testing.assert_allclose(boxed, whole, atol=1e-4)


def test_preload_imports_the_solver_only_for_closed_form():
    import subprocess
    import sys

    script = ("import sys; from fusionmat.matting.refine import preload; preload('none'); "
              "a = 'pymatting' in sys.modules; "
              "preload('closed-form'); print(a, 'pymatting' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
