from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.evaluate.scores import evaluate_folders, evaluate_pair, format_rows, read_matte, unknown_region
from tests.conftest import SHARED, requires_shared


def save(path, array):
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


@pytest.fixture
def folders(tmp_path):
    """gt/a.png, gt/b.png, gt/c.png; predictions for a (exact) and b (one pixel off); c missing."""
    gt, pred = tmp_path / "gt", tmp_path / "pred"
    gt.mkdir()
    pred.mkdir()
    a = np.zeros((8, 10), np.uint8)
    a[2:6, 3:7] = 255
    save(gt / "a.png", a)
    save(pred / "a_matting.png", a)
    save(gt / "b.png", a)
    b = a.copy()
    b[0, 0] = 255
    save(pred / "b.png", b)  # the second suffix is tried too
    save(gt / "c.png", a)
    return pred, gt


def test_pairs_by_stem_and_scores_by_hand(folders):
    rows = evaluate_folders(*folders)
    assert [r.name for r in rows] == ["a", "b", "c"]
    assert rows[0].scores == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "conn": 0.0}
    assert rows[1].scores["sad"] == pytest.approx(1 / 1000) and rows[1].scores["mse"] == pytest.approx(1 / 80)
    assert rows[2].problem.startswith("no prediction c{_matting.png,.png}")


def test_a_size_mismatch_is_named_as_such_not_as_missing(folders):
    pred, gt = folders
    save(pred / "c_matting.png", np.zeros((4, 4)))
    row = evaluate_folders(pred, gt)[2]
    assert row.problem == "prediction c_matting.png is 4x4, ground truth is 10x8" and row.scores == {}
    assert not row.missing
    table = format_rows(evaluate_folders(pred, gt), "table").splitlines()
    assert table[3].split()[1:] == ["not", "scored:", "prediction", "c_matting.png", "is", "4x4,", "ground",
                                    "truth", "is", "10x8"]
    data = json.loads(format_rows(evaluate_folders(pred, gt), "json"))
    assert data["missing"] == [] and data["not_scored"] == [{"name": "c", "reason": row.problem}]
    result = CliRunner().invoke(main, ["evaluate", str(pred), str(gt)])
    assert result.exit_code == 1 and "missing" not in result.output
    assert "not scored: c: prediction c_matting.png is 4x4, ground truth is 10x8" in result.output


def test_a_trimap_of_another_size_is_named_as_the_trimap(folders, tmp_path):
    pred, gt = folders
    trimaps = tmp_path / "tri"
    trimaps.mkdir()
    for stem in "abc":
        save(trimaps / f"{stem}.png", np.zeros((8, 10)))
    save(trimaps / "a.png", np.zeros((5, 6)))
    row = evaluate_folders(pred, gt, trimap_dir=trimaps)[0]
    assert row.problem == "trimap a.png is 6x5, ground truth is 10x8" and not row.missing


@pytest.fixture
def fifo(tmp_path):
    """``fifo(path)`` makes a named pipe there. Should anything open one to read (which blocks
    until a writer comes), a watchdog opens and closes its write end, so the reader gets an empty
    file and the test fails instead of hanging."""
    import os
    import threading
    import time

    made, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            for path in made:
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # only succeeds with a reader waiting
                except OSError:
                    pass
            time.sleep(0.05)

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()

    def make(path):
        os.mkfifo(path)
        made.append(path)
        return path

    yield make
    stop.set()
    watchdog.join()


@pytest.mark.parametrize("where", ["gt", "pred", "trimap"])
def test_a_fifo_is_refused_before_it_is_opened(folders, tmp_path, fifo, where):
    """A named pipe would block ``open`` until something writes to it: refused by what it is."""
    pred, gt = folders
    trimaps = tmp_path / "tri"
    trimaps.mkdir()
    for stem in "abc":
        save(trimaps / f"{stem}.png", np.full((8, 10), 128))
    target = {"gt": gt / "a.png", "pred": pred / "a_matting.png", "trimap": trimaps / "a.png"}[where]
    target.unlink()
    fifo(target)
    rows = evaluate_folders(pred, gt, trimap_dir=trimaps)
    assert rows[0].problem == f"{target}: is a FIFO, not a regular file" and not rows[0].missing
    assert rows[1].problem is None and rows[1].scores["sad"] > 0  # the others are still scored


def test_cli_refuses_a_fifo_in_one_line(folders, fifo):
    pred, gt = folders
    fifo(gt / "d.png")
    save(pred / "d.png", np.zeros((8, 10)))
    result = CliRunner().invoke(main, ["evaluate", str(pred), str(gt)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"not scored: d: {gt / 'd.png'}: is a FIFO, not a regular file\n" in result.output


def test_trimap_limits_the_count_to_the_unknown_region(folders, tmp_path):
    pred, gt = folders
    trimaps = tmp_path / "tri"
    trimaps.mkdir()
    tri = np.zeros((8, 10), np.uint8)
    tri[1:7, 2:8] = 128  # (0, 0), where b is wrong, is known background
    for stem in "abc":
        save(trimaps / f"{stem}.png", tri)
    rows = evaluate_folders(pred, gt, trimap_dir=trimaps)
    assert rows[1].scores["sad"] == 0.0 and rows[1].scores["mse"] == 0.0


def test_unknown_region():
    assert unknown_region(np.array([0.0, 0.5, 1.0, 0.2])).tolist() == [False, True, False, True]


def test_read_matte_keeps_16_bit(tmp_path):
    Image.fromarray(np.array([[0, 65535, 32768]], np.uint16)).save(tmp_path / "m.png")
    np.testing.assert_allclose(read_matte(tmp_path / "m.png"), [[0, 1, 32768 / 65535]], atol=1e-6)


def test_an_rgba_ground_truth_is_scored_on_its_alpha(tmp_path):
    """A cut-out given as ground truth: its transparency is the matte, not its colours."""
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    alpha = np.zeros((20, 20), np.uint8)
    alpha[5:15, 5:15] = 255
    Image.fromarray(alpha).save(pred / "a.png")
    rgba = np.dstack([np.full((20, 20, 3), 200, np.uint8), alpha])
    Image.fromarray(rgba, "RGBA").save(gt / "a.png")
    (row,) = evaluate_folders(pred, gt)
    assert row.problem is None and row.scores["sad"] == 0.0


def test_a_decompression_bomb_is_a_named_problem_not_a_crash(tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    Image.new("1", (13000, 13000)).save(gt / "bomb.png")  # 169 MP, over twice Pillow's limit
    Image.new("L", (20, 20)).save(pred / "bomb.png")
    Image.new("L", (20, 20)).save(gt / "ok.png")
    Image.new("L", (20, 20)).save(pred / "ok.png")
    rows = evaluate_folders(pred, gt)
    assert "too many pixels" in rows[0].problem and str(gt / "bomb.png") in rows[0].problem
    assert rows[1].scores["sad"] == 0.0
    result = CliRunner().invoke(main, ["evaluate", str(pred), str(gt)])
    assert result.exit_code == 1 and "Traceback" not in result.output and "ok" in result.output


def test_one_matte_reader_for_evaluate_and_compose(tmp_path, monkeypatch):
    """A 16-bit TIFF matte has the same values in `evaluate` and in `compose --matte`."""
    from fusionmat.io.read import read_matte as shared_reader
    from fusionmat.run.process import given_matte

    values = np.array([[0, 51000, 65535, 200]] * 16, np.uint16)
    Image.fromarray(values).save(tmp_path / "m.tif")
    expected = values.astype(np.float32) / 65535.0
    np.testing.assert_allclose(read_matte(tmp_path / "m.tif"), expected, atol=1e-6)
    assert read_matte is shared_reader
    np.testing.assert_allclose(given_matte(tmp_path / "m.tif", (16, 4)), expected, atol=1e-6)


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_formats(folders, fmt):
    text = format_rows(evaluate_folders(*folders), fmt)
    if fmt == "json":
        data = json.loads(text)
        assert data["scored"] == 2 and data["mean"]["sad"] == pytest.approx(0.0005)
        assert data["missing"][0]["name"] == "c"
    elif fmt == "csv":
        lines = text.splitlines()
        assert lines[0] == "name,sad,mse,grad,conn,problem" and lines[-1].startswith("MEAN,0.000500,")
    else:
        assert "missing: no prediction" in text and text.splitlines()[-1].startswith("MEAN (2)")


def test_cli_exit_status_and_message(folders):
    result = CliRunner().invoke(main, ["evaluate", *map(str, folders), "--format", "csv"])
    assert result.exit_code == 1
    assert "missing: c: no prediction" in result.output and "1 of 3 image(s) could not be scored" in result.output
    assert evaluate_folders(*folders)[2].missing
    save(folders[0] / "c.png", np.asarray(Image.open(folders[1] / "c.png")))
    result = CliRunner().invoke(main, ["evaluate", *map(str, folders)])
    assert result.exit_code == 0 and "MEAN (3)" in result.output


def test_cli_empty_ground_truth(tmp_path):
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 1 and "no ground-truth files ending in .png" in result.output


@requires_shared
def test_a_real_benchmark_pair():
    """A benchmark matte against itself moved one pixel: SAD and MSE as numpy computes them directly."""
    gt = read_matte(SHARED / "bench" / "plain" / "alpha" / "1__coffee.png")
    moved = np.roll(gt, 1, axis=1)
    scores = evaluate_pair(moved, gt)
    assert scores["sad"] == pytest.approx(np.abs(moved - gt).sum() / 1000, rel=1e-6)
    assert scores["mse"] == pytest.approx(((moved - gt) ** 2).mean(), rel=1e-5)
    assert scores["grad"] > 0 and scores["conn"] > 0 and scores["sad"] > 1
