"""The one per-image path (fusionmat.run.process) and the policies every surface inherits from it:
errors, the pixel budget, the input set, stream limits."""
from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.engines.base import Engine
from fusionmat.errors import BudgetError
from fusionmat.outputs.plan import OutputPlan, output_paths
from fusionmat.run.batch import run_local
from fusionmat.run.process import FAILED, Job, Session, process
from tests.conftest import requires_weights


class Stub(Engine):
    """An engine whose matte is a centred box, and which raises a plain RuntimeError (not a
    FusionmatError) for a photo whose top-left pixel is pure red."""

    name = "stub"

    def predict(self, image: np.ndarray) -> np.ndarray:
        if tuple(np.asarray(image)[0, 0]) == (255, 0, 0):
            raise RuntimeError("the stub engine broke")
        h, w = image.shape[:2]
        alpha = np.zeros((h, w), np.float32)
        alpha[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 1.0
        return alpha


def photo(path, red: bool = False, size=(64, 48)):
    rgb = np.full((size[1], size[0], 3), 120, np.uint8)
    if red:
        rgb[0, 0] = (255, 0, 0)
    Image.fromarray(rgb).save(path)
    return path


def stub_session(**fields) -> Session:
    return Session(Stub(), "none", **fields)


def test_any_exception_is_that_images_one_line_failure(tmp_path):
    bad = photo(tmp_path / "bad.png", red=True)
    outcome = process(Job(bad, output_paths(bad, tmp_path / "out", OutputPlan())), stub_session())
    assert outcome.status == FAILED and isinstance(outcome.exception, RuntimeError)
    assert outcome.error == f"{bad}: unexpected error: RuntimeError: the stub engine broke"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_keyboard_interrupt_is_not_an_image_failure(tmp_path):
    class Interrupted(Stub):
        def predict(self, image):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        process(Job(photo(tmp_path / "a.png")), Session(Interrupted(), "none"))


def test_local_threads_go_on_past_a_non_fusionmat_error(tmp_path):
    images = [photo(tmp_path / f"p{i}.png", red=(i == 1)) for i in range(4)]
    jobs = [Job(p, output_paths(p, tmp_path / "out", OutputPlan())) for p in images]
    outcomes = []
    assert run_local(jobs, stub_session(), workers=2, on_outcome=outcomes.append) is False
    status = {o.image.name: o.status for o in outcomes}
    assert status == {"p0.png": "done", "p1.png": "failed", "p2.png": "done", "p3.png": "done"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"p{i}_{k}" for i in (0, 2, 3) for k in ("matting.png", "concat.jpg"))


def test_the_batch_api_reports_a_non_fusionmat_error_and_goes_on(tmp_path):
    import fusionmat

    src = tmp_path / "src"
    src.mkdir()
    photo(src / "good.png")
    photo(src / "bad.png", red=True)
    report = fusionmat.batch(src, tmp_path / "out", engine=Stub(), rotate="none", crop="none")
    assert report.done == [str(src / "good.png")]
    assert report.failed == [{"file": str(src / "bad.png"),
                              "error": "unexpected error: RuntimeError: the stub engine broke"}]


def test_the_video_loop_stops_with_one_line_on_a_non_fusionmat_error(tmp_path, astronaut):
    pytest.importorskip("av")
    from fusionmat.errors import FusionmatError
    from fusionmat.run.video import matte_video
    from tests.test_videos import write_clip

    class Broken(Stub):
        def predict(self, image):
            raise RuntimeError("the stub engine broke")

    clip = write_clip(tmp_path / "clip.mp4", astronaut, frames=3, audio=False)
    with pytest.raises(FusionmatError, match=r"clip\.mp4 frame 1: unexpected error: RuntimeError"):
        matte_video(clip, tmp_path / "out", engine=Broken(), rotate="none", temporal=False)
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").iterdir()
                                                    if not p.name.startswith(".")]


def test_the_server_answers_500_without_internals_on_a_non_fusionmat_error(monkeypatch):
    pytest.importorskip("starlette")
    import io

    import fusionmat.engines as engines
    from tests.test_serve import client_for

    monkeypatch.setattr(engines, "load_engine", lambda *a, **k: Stub())
    buffer = io.BytesIO()
    rgb = np.full((48, 64, 3), 120, np.uint8)
    rgb[0, 0] = (255, 0, 0)
    Image.fromarray(rgb).save(buffer, format="PNG")
    with client_for(rotate="none", crop="none") as client:
        answer = client.post("/api/matte?output=matte", content=buffer.getvalue())
        ok_buffer = io.BytesIO()
        Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(ok_buffer, format="PNG")
        good = client.post("/api/matte?output=matte", content=ok_buffer.getvalue())
    assert answer.status_code == 500 and "stub engine" not in answer.text
    assert good.status_code == 200


def test_the_pixel_budget_applies_to_working_sizes(tmp_path, monkeypatch):
    """--aspect 1:20 makes a 20x taller working copy: refused before it is allocated."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    from fusionmat.preprocess.chain import Preprocessor, Settings

    image = photo(tmp_path / "wide.png", size=(200, 150))  # 30,000 px: the file is within the budget
    session = stub_session(preprocessor=Preprocessor(Settings(rotate="none", crop="none", aspect=(1.0, 20.0))))
    outcome = process(Job(image), session)
    assert isinstance(outcome.exception, BudgetError)
    assert outcome.error.startswith(f"{image}: the image with its aspect ratio restored to 1:20: too many pixels")
    turned = stub_session(preprocessor=Preprocessor(Settings(rotate=45.0, crop="none", aspect="none")))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)
    assert isinstance(process(Job(image), turned).exception, BudgetError)


def test_decoded_pixels_count_against_the_budget(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    outcome = process(Job("frame 7", pixels=np.zeros((40, 40, 3), np.uint8)), stub_session())
    assert isinstance(outcome.exception, BudgetError) and outcome.error.startswith("frame 7: too many pixels")


def test_standard_input_is_read_up_to_the_limit(tmp_path, monkeypatch):
    import fusionmat.limits as limits

    monkeypatch.setattr(limits, "MAX_STREAM_BYTES", 1000)
    result = CliRunner().invoke(main, ["predict", "-", "-o", "-", "--engine", "selfie"], input=b"\0" * 5000)
    assert result.exit_code == 1 and "standard input: more than" in result.output and "Traceback" not in result.output


@requires_weights
def test_a_tiny_image_from_standard_input_is_named_so(tmp_path):
    buffer = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(buffer)
    result = CliRunner().invoke(main, ["predict", "-", "-o", "-", "--engine", "selfie"], input=buffer.read_bytes())
    assert result.exit_code == 1 and "standard input: image is 1x1" in result.output
    assert "BytesIO" not in result.output


@pytest.mark.parametrize("value", ["0", "100000"])
def test_threads_and_workers_are_bounded(tmp_path, value):
    threads = CliRunner().invoke(main, ["predict", str(tmp_path / "x.png"), "--threads", value])
    workers = CliRunner().invoke(main, ["batch", str(tmp_path), "--workers", value])
    assert threads.exit_code == workers.exit_code == 2
    assert "--threads" in threads.output and "--workers" in workers.output


# --- one input set: no output may be a photo, a background picture, a --matte file or a link's target


@requires_weights
def test_a_background_picture_is_never_overwritten(tmp_path, astronaut):
    Image.fromarray(astronaut).resize((96, 96)).save(tmp_path / "a.png")
    beach = tmp_path / "beach.jpg"
    Image.fromarray(np.full((64, 64, 3), (10, 120, 200), np.uint8)).save(beach)
    before = beach.read_bytes()
    one = CliRunner().invoke(main, ["predict", str(tmp_path / "a.png"), "-o", str(beach), "--bg", str(beach),
                                    "--engine", "selfie"])
    assert one.exit_code == 1 and "refusing to overwrite an input" in one.output
    composite = tmp_path / "a_composite.jpg"
    composite.write_bytes(before)
    two = CliRunner().invoke(main, ["compose", str(tmp_path / "a.png"), "--bg", str(composite), "--engine", "selfie"])
    assert two.exit_code == 1 and "refusing to overwrite an input" in two.output
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    Image.fromarray(astronaut).resize((96, 96)).save(src / "p.png")
    (out / "p_composite.jpg").write_bytes(before)
    three = CliRunner().invoke(main, ["batch", str(src), "--out", str(out), "--bg", str(out / "p_composite.jpg"),
                                      "--engine", "selfie"])
    assert three.exit_code == 1 and "refusing to overwrite an input" in three.output
    assert beach.read_bytes() == composite.read_bytes() == (out / "p_composite.jpg").read_bytes() == before


@requires_weights
def test_batch_never_writes_through_a_link_onto_an_input(tmp_path, astronaut):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    keep = out / "keep.png"
    Image.fromarray(astronaut).resize((96, 96)).save(keep)
    before = keep.read_bytes()
    (src / "q.png").symlink_to(keep)  # an input that is a link to keep.png
    Image.fromarray(astronaut).resize((80, 80)).save(src / "p.png")
    (out / "p_matting.png").symlink_to(keep)  # p's matte would be written through this link
    result = CliRunner().invoke(main, ["batch", str(src), "--out", str(out), "--engine", "selfie"])
    assert result.exit_code == 1 and "refusing to overwrite an input" in result.output
    assert keep.read_bytes() == before


@requires_weights
def test_saved_steps_never_overwrite_an_input(tmp_path, astronaut):
    Image.fromarray(np.ascontiguousarray(np.rot90(astronaut, 1))).save(tmp_path / "side.png")
    trap = tmp_path / "side_1_rotate.jpg"
    Image.fromarray(astronaut).save(trap)
    before = trap.read_bytes()
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "side.png"), str(trap), "-o", str(tmp_path / "out"),
                                       "--save-steps", str(tmp_path)])
    assert result.exit_code == 1 and f"{trap}: refusing to overwrite an input" in result.output
    assert trap.read_bytes() == before


# --- Ctrl-C where numerical code runs, and SIGTERM


@requires_weights
def test_ctrl_c_during_the_foreground_estimate_exits_130_without_a_traceback(tmp_path, astronaut, monkeypatch):
    import fusionmat.matting.foreground as foreground

    Image.fromarray(astronaut).resize((128, 128)).save(tmp_path / "a.png")
    real = foreground.estimate_layers

    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(foreground, "estimate_layers", interrupted)
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "a.png"), "--cutout", "--engine", "selfie"])
    assert result.exit_code == 130 and "Traceback" not in result.output and "SystemError" not in result.output
    assert (tmp_path / "a_cutout.png").is_file()  # the image in progress was finished, whole


# --- messages a new user meets


def test_an_unknown_image_suffix_is_a_usage_error_not_a_folder(tmp_path):
    photo(tmp_path / "p.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "p.png"), "-o", str(tmp_path / "x.gif")])
    assert result.exit_code == 2 and "cannot write .gif" in result.output and not (tmp_path / "x.gif").exists()
    card = CliRunner().invoke(main, ["compose", str(tmp_path / "p.png"), "--bg", "white", "-o",
                                     str(tmp_path / "card.jpg")])
    assert card.exit_code == 2 and "fusionmat predict" in card.output and not (tmp_path / "card.jpg").exists()


def test_a_misspelt_colour_gets_a_suggestion(tmp_path):
    photo(tmp_path / "p.png")
    result = CliRunner().invoke(main, ["compose", str(tmp_path / "p.png"), "--bg", "whitee"])
    assert result.exit_code == 2 and "did you mean white" in result.output


def test_predict_on_a_folder_points_to_batch(tmp_path):
    result = CliRunner().invoke(main, ["predict", str(tmp_path)])
    assert result.exit_code == 2 and f"fusionmat batch {tmp_path}" in result.output


@requires_weights
def test_verbose_prints_each_images_steps_and_timing(tmp_path, astronaut):
    Image.fromarray(np.ascontiguousarray(np.rot90(astronaut, 1))).save(tmp_path / "side.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "side.png"), "-v", "--engine", "selfie"])
    assert result.exit_code == 0, result.output
    assert "rotate, turned -90.0 degrees" in result.output and "engine" in result.output and " s" in result.output


@requires_weights
def test_json_failures_do_not_repeat_the_file_name(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "bad.jpg").write_text("not a photo")
    result = CliRunner().invoke(main, ["batch", str(src), "--json", "-", "-q", "--engine", "selfie"])
    failed = json.loads(result.stdout)["failed"]
    assert failed == [{"file": str(src / "bad.jpg"), "error": "not an image Pillow can read"}]


@requires_weights
def test_a_recursive_run_says_which_photos_its_output_folder_holds_back(tmp_path, astronaut):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(astronaut).resize((64, 64)).save(src / "a.png")
    Image.fromarray(astronaut).resize((64, 64)).save(src / "sub" / "b.png")
    result = CliRunner().invoke(main, ["batch", str(src), "-r", "--out", str(src / "sub"), "--engine", "selfie"])
    assert result.exit_code == 0, result.output
    assert f"1 image(s) under {src / 'sub'} are not processed" in result.output


def test_a_fifo_as_photo_or_matte_is_refused_before_it_is_opened(tmp_path):
    """Opening a FIFO blocks until something writes to it: refused by what it is, for every reader."""
    import subprocess
    import sys

    os.mkfifo(tmp_path / "pipe.png")
    photo(tmp_path / "p.png")
    code = ("import sys; from fusionmat.io.read import read_image, read_matte\n"
            "for read in (read_image, read_matte):\n"
            "    try: read(sys.argv[1])\n"
            "    except Exception as exc: print(type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "pipe.png")], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.count("ImageReadError") == 2 and "is a FIFO, not a regular file" in out.stdout
    result = CliRunner().invoke(main, ["compose", str(tmp_path / "p.png"), "--bg", "white",
                                       "--matte", str(tmp_path / "pipe.png")])
    assert result.exit_code == 1 and "is a FIFO, not a regular file" in result.output


def test_serve_refuses_to_start_with_an_unusable_model_in_one_line(tmp_path, monkeypatch):
    pytest.importorskip("uvicorn")
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path))  # no model files
    result = CliRunner().invoke(main, ["serve", "--port", "1"])  # never listens: the model is checked first
    assert result.exit_code == 1 and "modnet.onnx: model file missing" in result.output
    assert "Traceback" not in result.output


def test_video_refuses_a_fifo_before_opening_it(tmp_path):
    pytest.importorskip("av")
    os.mkfifo(tmp_path / "clip.mp4")
    result = CliRunner().invoke(main, ["video", str(tmp_path / "clip.mp4"), "--engine", "selfie"])
    assert result.exit_code == 1 and "is a FIFO, not a regular file" in result.output


@requires_weights
def test_a_json_report_onto_an_input_is_refused_before_any_work(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    photo(src / "a.png")
    result = CliRunner().invoke(main, ["batch", str(src), "--json", str(src / "a.png"), "--engine", "selfie"])
    assert result.exit_code == 2 and "refusing to overwrite an input" in result.output
    assert not (tmp_path / "src_matting").exists()


def test_a_header_far_over_the_budget_gets_fusionmats_words(tmp_path):
    import struct
    import zlib

    from fusionmat.io.read import read_image

    photo(tmp_path / "small.png")
    data = bytearray((tmp_path / "small.png").read_bytes())
    data[16:24] = struct.pack(">II", 100000, 100000)  # IHDR claims 100000x100000 (Pillow refuses > 2x its limit)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    (tmp_path / "huge.png").write_bytes(bytes(data))
    with pytest.raises(BudgetError, match=r"huge\.png: too many pixels \(over the limit of \d+\)"):
        read_image(tmp_path / "huge.png")


@requires_weights
def test_a_photo_given_twice_is_done_once(tmp_path, astronaut):
    Image.fromarray(astronaut).resize((96, 96)).save(tmp_path / "a.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "a.png"), str(tmp_path / "a.png"), "-o",
                                       str(tmp_path / "out"), "--engine", "selfie"])
    assert result.exit_code == 0 and result.output.count(" -> ") == 1


def test_engine_option_messages_name_the_option_once(tmp_path):
    photo(tmp_path / "p.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "p.png"), "--engine", "latefusion",
                                       "-E", "size=33x33"])
    assert result.exit_code == 2 and "engine option size must be" in result.output and "size size" not in result.output


@requires_weights
def test_fusionmat_matte_is_safe_from_threads(astronaut):
    """One engine shared by threads (LiteRT interpreters are not thread-safe): the same mattes as in turn."""
    from concurrent.futures import ThreadPoolExecutor

    import fusionmat

    engine = fusionmat.load_engine("selfie")
    photos = [np.ascontiguousarray(np.asarray(Image.fromarray(astronaut).resize((96 + 8 * i, 96))))
              for i in range(4)]
    alone = [fusionmat.matte(p, engine=engine, rotate="none", crop="none") for p in photos]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: fusionmat.matte(p, engine=engine, rotate="none", crop="none"),
                                 photos * 2))
    for a, b in zip(alone * 2, together):
        np.testing.assert_array_equal(a, b)


def test_a_library_warning_is_told_with_the_image_it_came_from(tmp_path, monkeypatch):
    import warnings

    import fusionmat.engines as engines

    class Warns(Stub):
        def predict(self, image):
            warnings.warn("Corrupt EXIF data", UserWarning, stacklevel=1)
            return super().predict(image)

    monkeypatch.setattr(engines, "load_engine", lambda *a, **k: Warns())
    photo(tmp_path / "p.png")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "p.png"), "--rotate", "none", "--crop", "none"])
    assert result.exit_code == 0, result.output
    assert f"warning: {tmp_path / 'p.png'}: Corrupt EXIF data" in result.output


def test_the_input_set_knows_a_file_by_its_resolved_path(tmp_path):
    from fusionmat.errors import OutputError
    from fusionmat.run.planning import Inputs

    src = tmp_path / "a.png"
    src.write_bytes(b"x")
    (tmp_path / "link.png").symlink_to(src)
    for alias in (tmp_path / "." / "a.png", tmp_path / "link.png"):
        with pytest.raises(OutputError, match="refusing to overwrite an input"):
            Inputs([src]).refuse([alias])
    Inputs([src]).refuse([tmp_path / "b.png"])  # another file: fine


def test_a_cancelled_job_stops_at_its_next_step(tmp_path):
    import threading

    from fusionmat.errors import Cancelled

    cancel = threading.Event()

    class Cancelling(Stub):
        def predict(self, image):
            cancel.set()  # the client left while the engine ran
            return super().predict(image)

    outcome = process(Job(photo(tmp_path / "a.png"), keep=("alpha", "cutout"), cancel=cancel),
                      Session(Cancelling(), "none"))
    assert outcome.status == FAILED and isinstance(outcome.exception, Cancelled)
    assert outcome.rendered == {}  # the cut-out was never made
    assert process(Job(photo(tmp_path / "b.png"), keep=("alpha",)), stub_session()).alpha is not None
