"""Faults a hostile user meets (issue 13): failed writes, bad option values, odd targets and inputs.

Each test injects one fault and checks for one clean line naming the file, the run going on,
nothing partial left, inputs untouched, and the right exit status.
"""
from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.errors import OutputError
from fusionmat.io.write import atomic_write, save_image
from tests.conftest import requires_weights


@pytest.fixture
def photos(tmp_path, astronaut) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a", "b", "c"):
        Image.fromarray(astronaut).resize((160, 160)).save(folder / f"{name}.png")
    return folder


def disk_full_for(monkeypatch, marker: str) -> None:
    """Every rename onto a file whose name contains ``marker`` fails as on a full disk."""
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if marker in os.path.basename(str(dst)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*.part*"))


def test_a_failed_write_is_an_output_error_and_leaves_no_temp_file(tmp_path, monkeypatch):
    disk_full_for(monkeypatch, "x.png")
    with pytest.raises(OutputError, match=r"x\.png: could not be written: No space left on device"):
        save_image(tmp_path / "x.png", np.zeros((8, 8), np.float32))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot write there"):
        save_image(blocker / "y.png", np.zeros((8, 8), np.float32))
    assert leftovers(tmp_path) == [] and not (tmp_path / "x.png").exists()


@requires_weights
def test_predict_goes_on_after_a_full_disk_on_one_image(photos, monkeypatch):
    disk_full_for(monkeypatch, "a_matting")
    result = CliRunner().invoke(main, ["predict", str(photos / "a.png"), str(photos / "b.png")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "a_matting.png: could not be written: No space left on device" in result.output
    assert (photos / "b_matting.png").is_file() and not (photos / "a_matting.png").exists()
    assert leftovers(photos) == []


@requires_weights
def test_batch_on_a_full_disk_names_each_failure_and_still_reports(photos, tmp_path, monkeypatch):
    disk_full_for(monkeypatch, "b_")
    out, report = tmp_path / "out", tmp_path / "report.json"
    result = CliRunner().invoke(main, ["batch", str(photos), "--out", str(out), "--json", str(report)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "2 done, 0 skipped (already done), 1 failed" in result.output
    data = json.loads(report.read_text())
    assert [Path(f["file"]).name for f in data["failed"]] == ["b.png"]
    assert "No space left on device" in data["failed"][0]["error"]
    assert leftovers(out) == [] and sorted(p.name for p in out.iterdir()) == [
        "a_concat.jpg", "a_matting.png", "c_concat.jpg", "c_matting.png"]


@requires_weights
def test_batch_into_a_folder_under_a_file_fails_per_image_with_a_summary(photos, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["batch", str(photos), "--out", str(blocker / "out")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "0 done, 0 skipped (already done), 3 failed" in result.output
    assert result.output.count("cannot write there") >= 3


@requires_weights
def test_an_explicit_crop_that_misses_one_image_fails_that_image_only(photos, tmp_path):
    Image.new("RGB", (40, 40), "white").save(photos / "small.png")
    result = CliRunner().invoke(main, ["batch", str(photos), "--out", str(tmp_path / "o"), "--crop", "100,100,50,50",
                                       "--rotate", "none"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "3 done" in result.output and "1 failed" in result.output
    assert "small.png: crop box 100,100,50,50 does not overlap the 40x40 image" in result.output


@pytest.mark.parametrize("option", [["--rotate", "nan"], ["--rotate", "inf"], ["--aspect", "inf:1"],
                                    ["--aspect", "1:1e-9"], ["--aspect", "1000:1"], ["--aspect", "10000:1"]])
def test_absurd_option_values_are_usage_errors(photos, option):
    result = CliRunner().invoke(main, ["predict", str(photos / "a.png"), *option])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"Invalid value for {option[0]}:" in result.output
    assert not (photos / "a_matting.png").exists()


@requires_weights
def test_the_json_report_never_overwrites_an_input_and_dash_means_stdout(photos, tmp_path):
    before = (photos / "a.png").read_bytes()
    result = CliRunner().invoke(main, ["batch", str(photos), "--out", str(tmp_path / "o"),
                                       "--json", str(photos / "a.png")])
    assert result.exit_code == 2 and "refusing to overwrite an input file" in result.output  # before any work
    assert (photos / "a.png").read_bytes() == before and not (tmp_path / "o").exists()
    result = CliRunner().invoke(main, ["batch", str(photos), "--out", str(tmp_path / "o"), "--json", "-"])
    assert result.exit_code == 0 and json.loads(result.stdout)["done"]


def test_a_target_that_is_not_a_regular_file_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    atomic_write(fifo, lambda target: Path(target).write_text('{"done": []}'))
    reader.join(timeout=10)
    assert received == ['{"done": []}'] and fifo.is_fifo()


def test_writes_never_touch_the_umask(tmp_path, monkeypatch):
    def umask(_):
        raise AssertionError("umask changed while writing")

    monkeypatch.setattr(os, "umask", umask)
    threads = [threading.Thread(target=save_image, args=(tmp_path / f"{i}.png", np.zeros((4, 4), np.float32)))
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(list(tmp_path.glob("*.png"))) == 8


def test_jpeg_outputs_keep_full_colour_resolution(tmp_path):
    from PIL import JpegImagePlugin

    path = save_image(tmp_path / "c.jpg", np.random.default_rng(0).random((32, 32, 3)).astype(np.float32))
    with Image.open(path) as im:
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4


@requires_weights
def test_a_fifo_among_the_inputs_is_skipped_not_waited_on(photos, tmp_path):
    os.mkfifo(photos / "p.jpg")
    out = subprocess.run([sys.executable, "-m", "fusionmat", "batch", str(photos), "--out", str(tmp_path / "o"),
                          "--json", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["done"]) == 3 and data["ignored_non_images"] == 1


def test_batch_does_not_matte_its_own_earlier_outputs(tmp_path):
    from fusionmat.io.folder import find_images

    for name in ("x.jpg", "x_matting.png", "x_concat.jpg", "x_cutout.png", "y_matting.png", "my_concat.jpg"):
        Image.new("RGB", (20, 20)).save(tmp_path / name)
    taken, ignored = find_images(tmp_path, recursive=False)
    # y has no photo here, and "my" is not "x": both are someone's pictures, so they are taken
    assert sorted(p.name for p in taken) == ["my_concat.jpg", "x.jpg", "y_matting.png"] and ignored == 3


@requires_weights
def test_predict_prints_no_native_info_lines(photos):
    out = subprocess.run([sys.executable, "-m", "fusionmat", "predict", str(photos / "a.png")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "XNNPACK" not in out.stderr and "INFO" not in out.stderr
