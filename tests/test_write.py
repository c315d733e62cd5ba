from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from fusionmat.errors import OutputError
from fusionmat.io.write import atomic_write, concat_preview, current_umask, save_image


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


@pytest.mark.parametrize("name, shape, words", [
    ("x_concat.jpg", (300, 70000, 3), "70000x300 is too wide for JPEG (at most 65500 px a side); use .png"),
    ("x_cutout.webp", (16384, 8, 4), "8x16384 is too tall for WebP (at most 16383 px a side); use .png"),
])
def test_a_side_too_long_for_the_format_is_one_clear_error(tmp_path, name, shape, words):
    """Pillow raised OSError (JPEG) or ValueError (WebP) for these, which reached the user as a traceback."""
    from fusionmat.io.write import encode

    with pytest.raises(OutputError) as caught:
        save_image(tmp_path / name, np.zeros(shape, np.uint8))
    assert str(caught.value) == f"{tmp_path / name}: {words}"
    assert os.listdir(tmp_path) == []
    with pytest.raises(OutputError, match="too tall for JPEG"):
        encode(Image.new("L", (8, 65501)), "JPEG", io.BytesIO(), name=name)
    encode(Image.new("L", (65500, 8)), "JPEG", io.BytesIO(), name=name)  # at the limit: fine
    encode(Image.new("L", (16383, 8)), "WEBP", io.BytesIO(), name=name)


def test_a_long_stem_whose_output_name_fits_is_written(tmp_path):
    """A 235-character stem: `<stem>_matting.png` is 247 bytes, but its temp name went over 255."""
    for name in ("a" * 235 + "_matting.png", "é" * 117 + "_matting.png"):
        path = save_image(tmp_path / name, np.zeros((4, 4), np.float32))
        assert path.name == name and Image.open(path).size == (4, 4)
    assert len(os.listdir(tmp_path)) == 2


def test_stale_temp_folders_of_dead_processes_are_removed(tmp_path):
    """A SIGKILLed `video --alpha png` leaves `.<stem>_cutout.<pid>-<random>.part/` with frames in it."""
    import subprocess
    import sys

    from fusionmat.io.write import clean_stale_temps

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".clip_cutout.fusionmat-{dead.stdout.strip()}-k2j4h5g6.part"
    stale.mkdir()
    (stale / "000001.png").write_bytes(b"frame")
    running = tmp_path / f".other_cutout.fusionmat-{os.getppid()}-abcdefgh.part"  # a process that is running
    running.mkdir()
    assert clean_stale_temps(tmp_path) == [stale]
    assert sorted(os.listdir(tmp_path)) == [running.name]
