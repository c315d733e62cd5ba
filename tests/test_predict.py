"""`fusionmat predict` as scripts use it: one output file, standard input and output, backgrounds,
formats, quiet runs and skipping what is up to date."""
from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from tests.conftest import requires_weights

FAST = ["--engine", "selfie"]


@pytest.fixture
def photo(tmp_path, astronaut):
    path = tmp_path / "astro.jpg"
    Image.fromarray(astronaut).resize((160, 160)).save(path, quality=92)
    return path


def run(*args, input=None):
    return CliRunner().invoke(main, ["predict", *map(str, args), *FAST], input=input)


@requires_weights
def test_one_output_file_is_the_cutout_and_nothing_else(tmp_path, photo):
    result = run(photo, "-o", tmp_path / "cut.png")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astro.jpg", "cut.png"]
    cut = Image.open(tmp_path / "cut.png")
    assert cut.mode == "RGBA" and cut.size == (160, 160)
    alpha = np.asarray(cut)[..., 3]
    assert alpha.max() == 255 and alpha.min() == 0


@requires_weights
@pytest.mark.parametrize("only, name, mode, size", [("matte", "x.png", "L", (160, 160)),
                                                    ("preview", "x.webp", "RGB", (320, 160)),
                                                    ("composite", "x.webp", "RGB", (160, 160))])
def test_only_chooses_what_the_file_holds(tmp_path, photo, only, name, mode, size):
    result = run(photo, "-o", tmp_path / name, "--only", only, "--bg", "#336699")
    assert result.exit_code == 0, result.output
    image = Image.open(tmp_path / name)
    assert image.format == {"png": "PNG", "webp": "WEBP"}[name[2:]] and image.mode == mode and image.size == size


@requires_weights
def test_standard_input_to_standard_output(photo):
    result = run("-", "-o", "-", input=photo.read_bytes())
    assert result.exit_code == 0, result.stderr
    cut = Image.open(io.BytesIO(result.stdout_bytes))
    assert cut.format == "PNG" and cut.mode == "RGBA" and cut.size == (160, 160)


@requires_weights
def test_composite_on_a_colour_as_jpeg_and_on_transparent(tmp_path, photo):
    result = run(photo, "-o", tmp_path / "card.jpg", "--bg", "white")
    assert result.exit_code == 0, result.output
    card = np.asarray(Image.open(tmp_path / "card.jpg"))
    assert card.shape == (160, 160, 3) and card[0, 0].min() > 240  # the corner is the new background
    folder = run(photo, "-o", tmp_path / "out", "--bg", "transparent")
    assert folder.exit_code == 0, folder.output
    composite = Image.open(tmp_path / "out" / "astro_composite.png")
    assert composite.mode == "RGBA" and np.asarray(composite)[0, 0, 3] == 0


@pytest.mark.parametrize("args, message", [
    (["-o", "x.jpg"], "JPEG cannot hold the cutout"),
    (["-o", "x.png", "--only", "composite"], "--only composite needs --bg"),
    (["--only", "matte"], "--only goes with -o FILE"),
    (["--bg", "#ffffff80", "--format", "jpg"], "needs --format png or webp"),
])
def test_usage_errors(tmp_path, photo, args, message):
    result = run(photo, *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_one_file_needs_one_image_and_stdin_needs_a_target(tmp_path, photo):
    result = run(photo, photo, "-o", tmp_path / "x.png")
    assert result.exit_code == 2 and "exactly one IMAGE" in result.output
    result = run("-", input=b"")
    assert result.exit_code == 2 and "standard input" in result.output


def test_the_one_file_is_never_the_input(tmp_path, astronaut):
    photo = tmp_path / "p.png"
    Image.fromarray(astronaut).resize((64, 64)).save(photo)
    before = photo.read_bytes()
    result = run(photo, "-o", photo)
    assert result.exit_code == 1 and "refusing to overwrite an input" in result.output
    assert photo.read_bytes() == before


@requires_weights
def test_a_rerun_skips_what_is_up_to_date_and_redoes_what_changed(tmp_path, photo):
    out = tmp_path / "out"
    first = run(photo, "-o", out)
    assert first.exit_code == 0 and "skipped" not in first.output
    again = run(photo, "-o", out)
    assert again.exit_code == 0 and "up to date, skipped" in again.output
    forced = run(photo, "-o", out, "--overwrite")
    assert forced.exit_code == 0 and "skipped" not in forced.output
    other = run(photo, "-o", out, "--cutout")  # other options: redone
    assert other.exit_code == 0 and "skipped" not in other.output and (out / "astro_cutout.png").is_file()


@requires_weights
def test_quiet_prints_errors_only(tmp_path, photo):
    (tmp_path / "bad.jpg").write_text("not a photo")
    result = run(photo, tmp_path / "bad.jpg", "-o", tmp_path / "out", "-q")
    assert result.exit_code == 1
    assert result.stdout == "" and "bad.jpg" in result.stderr and "astro" not in result.stderr
    assert (tmp_path / "out" / "astro_matting.png").is_file()


@requires_weights
def test_one_file_into_a_fifo(tmp_path, photo):
    """A pipe named as -o (like /dev/stdout in a pipeline) is written into, never replaced."""
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = {}
    reader = threading.Thread(target=lambda: received.update(data=fifo.read_bytes()))
    reader.start()
    result = run(photo, "-o", fifo, "--only", "matte")
    reader.join(60)
    assert result.exit_code == 0, result.output
    assert Image.open(io.BytesIO(received["data"])).size == (160, 160)
    assert not fifo.is_file() and fifo.exists()
