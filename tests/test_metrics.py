from __future__ import annotations

import numpy as np
import pytest

from fusionmat.evaluate.metrics import all_metrics, conn, gaussian_derivative_kernels, grad, mse, sad


def test_sad_and_mse_by_hand():
    gt = np.zeros((2, 2))
    pred = np.array([[1.0, 0.5], [0.0, 0.0]])
    assert sad(pred, gt) == pytest.approx(1.5 / 1000)
    assert mse(pred, gt) == pytest.approx((1 + 0.25) / 4)
    mask = np.array([[False, True], [False, False]])
    assert sad(pred, gt, mask) == pytest.approx(0.5 / 1000)
    assert mse(pred, gt, mask) == pytest.approx(0.25)


def test_identical_mattes_score_zero():
    a = np.random.default_rng(0).random((30, 40))
    assert all(v == pytest.approx(0.0) for v in all_metrics(a, a).values())


def test_gradient_kernel_is_unit_norm_derivative():
    kx, ky = gaussian_derivative_kernels(1.4)
    assert np.sqrt((kx**2).sum()) == pytest.approx(1.0)
    assert kx.shape == (9, 9)  # half size ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) 1.4 0.01))) = 4
    np.testing.assert_allclose(kx.T, ky)
    ramp = np.tile(np.arange(9.0), (9, 1))  # increases with x
    assert (kx * ramp).sum() > 0


def test_grad_sees_edges_not_constants():
    flat = np.full((20, 20), 0.3)
    step = np.zeros((20, 20))
    step[:, 10:] = 1.0
    assert grad(flat + 0.2, flat) == pytest.approx(0.0, abs=1e-12)
    assert grad(step, flat) > 0


def test_conn_by_hand():
    gt = np.ones((3, 3))
    pred = np.ones((3, 3))
    pred[0, 0] = 0.0  # one pixel disconnected at every threshold
    # level of that pixel: 0.0 (lost at the first threshold); phi_pred = 1 - 0 (d=0 < 0.15) = 1,
    # phi_gt = 1 - 1 = 0; every other pixel stays connected (level 1, d = 0): difference 1.
    assert conn(pred, gt) == pytest.approx(1.0 / 1000)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="one shape"):
        sad(np.zeros((2, 2)), np.zeros((2, 3)))
