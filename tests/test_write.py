from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from fusionmat.errors import OutputError
from fusionmat.io.write import atomic_write, concat_preview, current_umask, refuse_inputs, save_image


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


def test_a_short_write_on_a_full_disk_is_an_error_not_a_truncated_file(tmp_path):
    """A full disk first accepts part of a write: Pillow's encoders took that for success and left
    truncated JPEGs at their final names. Simulated with a file-size limit inside the last chunk."""
    import subprocess
    import sys

    code = f"""
import io, resource, signal, sys
import numpy as np
from PIL import Image
from fusionmat.errors import OutputError
from fusionmat.io.write import save_image
picture = (np.random.default_rng(0).random((400, 400, 3)) * 255).astype(np.uint8)
encoded = io.BytesIO()
Image.fromarray(picture).save(encoded, format="JPEG", quality=95, subsampling=0)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail (EFBIG) instead of killing
resource.setrlimit(resource.RLIMIT_FSIZE, (len(encoded.getvalue()) - 100,) * 2)
try:
    save_image({str(tmp_path / 'big.jpg')!r}, picture)
except OutputError as exc:
    print("refused:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused:") and "big.jpg" in out.stdout
    assert sorted(os.listdir(tmp_path)) == []  # no final file, no temp file


def test_special_targets_are_written_into_and_links_are_kept(tmp_path):
    from fusionmat.io.write import is_special, save_bytes

    assert is_special("/dev/stdout") and is_special("/dev/null") and not is_special(tmp_path / "x.png")
    target = tmp_path / "real.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    save_bytes(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"  # the link stays, what it points to is replaced
    save_bytes("/dev/null", b"into the device, not over it")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
