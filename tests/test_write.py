from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from fusionmat.errors import OutputError
from fusionmat.write import atomic_write, concat_preview, current_umask, refuse_inputs, save_image


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.png"

    def broken(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_replaces_and_respects_umask(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    save_image(target, np.full((8, 8), 0.5, np.float32))
    assert Image.open(target).mode == "L"
    assert (os.stat(target).st_mode & 0o777) == (0o666 & ~current_umask())
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_matte_is_8bit_and_rounded(tmp_path):
    alpha = np.array([[0.0, 0.5, 1.0, 0.2]], np.float32).repeat(4, 0)
    path = save_image(tmp_path / "m.png", alpha)
    got = np.asarray(Image.open(path))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got[0], [0, 128, 255, 51])


def test_concat_layout():
    image = np.random.default_rng(0).random((10, 7, 3)).astype(np.float32)
    alpha = np.random.default_rng(1).random((10, 7)).astype(np.float32)
    both = concat_preview(image, alpha)
    assert both.shape == (10, 14, 3) and both.dtype == np.uint8
    np.testing.assert_array_equal(both[:, :7], np.round(image * 255))
    np.testing.assert_array_equal(both[:, 7:, 1], np.round(alpha * 255))
    with pytest.raises(ValueError, match="alpha must have shape"):
        concat_preview(image, alpha[:5])


def test_jpeg_refuses_alpha_and_unknown_suffix(tmp_path):
    with pytest.raises(OutputError, match="transparency"):
        save_image(tmp_path / "x.jpg", np.zeros((4, 4, 4), np.float32))
    with pytest.raises(OutputError, match="unsupported output format"):
        save_image(tmp_path / "x.bmpx", np.zeros((4, 4), np.float32))


def test_refuse_inputs(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"x")
    with pytest.raises(OutputError, match="refusing to overwrite an input"):
        refuse_inputs([tmp_path / "." / "a.png"], {src.resolve()})
