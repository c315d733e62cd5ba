from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.io.folder import find_images
from fusionmat.run.batch import default_out
from tests.conftest import requires_weights


def test_find_images_by_content(tmp_path):
    Image.new("RGB", (20, 20)).save(tmp_path / "no_suffix", format="PNG")
    Image.new("RGB", (20, 20)).save(tmp_path / "a.jpg")
    (tmp_path / "broken.jpg").write_text("not a jpeg")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / ".hidden.png").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (20, 20)).save(tmp_path / "sub" / "b.png")
    found, ignored = find_images(tmp_path, recursive=False)
    assert [p.name for p in found] == ["a.jpg", "broken.jpg", "no_suffix"] and ignored == 1
    found, _ = find_images(tmp_path, recursive=True)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.jpg", "broken.jpg", "no_suffix", "sub/b.png"]
    found, _ = find_images(tmp_path, recursive=True, exclude=tmp_path / "sub")
    assert "sub/b.png" not in [p.relative_to(tmp_path).as_posix() for p in found]


def test_default_output_folder_is_beside_the_input(tmp_path):
    assert default_out(tmp_path / "shoot") == (tmp_path / "shoot_matting").resolve()


def make_fault_folder(root: Path, astronaut: np.ndarray) -> tuple[list[str], list[str]]:
    """Good photos in every mode and nesting, and every kind of bad file. Returns (good, bad) paths."""
    small = Image.fromarray(astronaut).resize((160, 160))
    (root / "nested" / "deeper").mkdir(parents=True)
    small.save(root / "rgb.jpg", quality=90)
    small.convert("L").save(root / "grey.png")
    rgba = small.convert("RGBA")
    rgba.putalpha(200)
    rgba.save(root / "rgba.png")
    small.convert("CMYK").save(root / "cmyk.jpg")
    deep = (np.asarray(small.convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(deep).save(root / "deep16.png")
    assert Image.open(root / "deep16.png").mode.startswith("I")
    small.save(root / "anim.gif", save_all=True, append_images=[small.rotate(10)], duration=100, loop=0)
    small.save(root / "nested" / "deeper" / "inner.png")
    small.save(root / "nested" / "photo_without_suffix", format="PNG")
    good = ["rgb.jpg", "grey.png", "rgba.png", "cmyk.jpg", "deep16.png", "anim.gif", "nested/deeper/inner.png",
            "nested/photo_without_suffix"]

    jpeg = (root / "rgb.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "zero.jpg").write_bytes(b"")
    (root / "text.jpg").write_text("this is not a photo\n")
    Image.new("RGB", (1, 1)).save(root / "tiny.png")
    Image.new("1", (13000, 13000)).save(root / "nested" / "bomb.png")  # 169 MP > twice Pillow's limit
    bad = ["truncated.jpg", "zero.jpg", "text.jpg", "tiny.png", "nested/bomb.png"]
    if os.geteuid() != 0:  # root reads everything; elsewhere an unreadable photo must be reported
        small.save(root / "locked.jpg")
        (root / "locked.jpg").chmod(0)
        bad.append("locked.jpg")
    (root / "README.txt").write_text("shoot notes")  # not an image: ignored, not an error
    return good, bad


def outputs_of(out: Path, relative: str) -> list[Path]:
    rel = Path(relative)
    return [out / rel.parent / f"{rel.stem}_matting.png", out / rel.parent / f"{rel.stem}_concat.jpg"]


@requires_weights
def test_fault_injection(tmp_path, astronaut):
    photos = tmp_path / "photos"
    photos.mkdir()
    good, bad = make_fault_folder(photos, astronaut)
    before = {p: p.stat().st_mtime_ns for p in photos.rglob("*")}
    out, report = tmp_path / "mattes", tmp_path / "report.json"
    args = ["batch", str(photos), "--recursive", "--out", str(out), "--json", str(report), "--workers", "3"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    for name in good:
        for path in outputs_of(out, name):
            assert path.is_file() and path.stat().st_size > 0, path
    data = json.loads(report.read_text())
    failed = {Path(f["file"]).relative_to(photos).as_posix(): f["error"] for f in data["failed"]}
    assert sorted(failed) == sorted(bad)
    for name in bad:
        assert f"error: {photos / name}: " in result.output  # one line naming the file
        assert not any(p.exists() for p in outputs_of(out, name))
    assert "too many pixels" in failed["nested/bomb.png"] and "smaller than" in failed["tiny.png"]
    assert data["ignored_non_images"] == 1 and len(data["done"]) == len(good)
    assert f"{len(good)} done, 0 skipped (already done), {len(bad)} failed" in result.output
    leftovers = [p for p in out.rglob("*") if p.is_file() and (p.name.startswith(".") or p.stat().st_size == 0)]
    assert leftovers == []  # no partial or zero-byte output anywhere
    assert {p: p.stat().st_mtime_ns for p in photos.rglob("*")} == before  # inputs untouched

    again = CliRunner().invoke(main, args)
    data = json.loads(report.read_text())
    assert again.exit_code == 1 and data["done"] == [] and len(data["skipped"]) == len(good)
    forced = CliRunner().invoke(main, [*args, "--overwrite"])
    assert len(json.loads(report.read_text())["done"]) == len(good), forced.output


@requires_weights
def test_ctrl_c_finishes_and_counts_the_image_in_progress_and_a_rerun_resumes(tmp_path, astronaut, monkeypatch):
    """A real SIGINT while the third image is in the engine: that image is finished, written and
    counted as done; the fourth, not started, is left for the re-run."""
    import os
    import signal

    import fusionmat.matting.pipeline as pipeline

    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    for i in range(4):
        Image.fromarray(astronaut).resize((128, 128)).save(photos / f"p{i}.png")
    real = pipeline.run_engine
    calls = []

    def interrupted_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C; Python delivers it to the main thread
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run_engine", interrupted_on_third)
    args = ["batch", str(photos), "--out", str(out), "--workers", "1", "--json", str(tmp_path / "r.json")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 130 and "interrupted: 3 done" in result.output, result.output
    assert sorted(json.loads((tmp_path / "r.json").read_text())["done"]) == [str(photos / f"p{i}.png")
                                                                             for i in range(3)]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"p{i}_{kind}" for i in range(3)
                                                           for kind in ("concat.jpg", "matting.png"))
    monkeypatch.setattr(pipeline, "run_engine", real)
    result = CliRunner().invoke(main, ["batch", str(photos), "--out", str(out)])
    assert result.exit_code == 0 and "1 done, 3 skipped" in result.output


@requires_weights
def test_batch_composes_and_cuts_out(tmp_path, astronaut):
    photos = tmp_path / "in"
    photos.mkdir()
    Image.fromarray(astronaut).save(photos / "astro.png")
    result = CliRunner().invoke(main, ["batch", str(photos), "--bg", "#00ff00", "--cutout"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "in_matting"
    composite = np.asarray(Image.open(out / "astro_composite.jpg"))
    assert composite.shape == (512, 512, 3)
    assert composite[:40, :40, 1].mean() > 230 and composite[:40, :40, 0].mean() < 30  # flag corner now green
    assert Image.open(out / "astro_cutout.png").mode == "RGBA"


def test_batch_refuses_its_input_folder_as_output(tmp_path):
    result = CliRunner().invoke(main, ["batch", str(tmp_path), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "must not be the input folder" in result.output


@pytest.mark.parametrize("bg, message", [("#12", "must be #RGB, #RRGGBB, #RRGGBBAA"), ("blur:-3", "SIGMA > 0"),
                                         ("missing.jpg", "no such file")])
def test_batch_bad_background_is_a_usage_error(tmp_path, bg, message):
    result = CliRunner().invoke(main, ["batch", str(tmp_path), "--bg", bg])
    assert result.exit_code == 2 and message in result.output


@requires_weights
def test_a_photo_without_a_person_gets_one_warning_and_an_empty_matte(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(folder / "wall.png")
    result = CliRunner().invoke(main, ["batch", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.count("no person found") == 1
    matte = np.asarray(Image.open(tmp_path / "shots_matting" / "wall_matting.png"))
    assert matte.shape == (120, 160) and not matte.any()


@requires_weights
def test_a_recursive_run_never_mattes_an_earlier_runs_outputs(tmp_path, astronaut):
    """After `batch bb -o bb/s -r`, `batch bb -r` took bb/s/a_matting.png and a_concat.jpg for photos
    (a_concat_concat.jpg ... grew run after run)."""
    src = tmp_path / "bb"
    src.mkdir()
    Image.fromarray(astronaut).resize((96, 96)).save(src / "a.jpg")
    first = CliRunner().invoke(main, ["batch", str(src), "-o", str(src / "s"), "-r", "--cutout", "--engine", "selfie",
                                      "--save-steps", str(src / "steps"), "--rotate", "90"])
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(main, ["batch", str(src), "-r", "--engine", "selfie", "--json", "-", "-q"])
    assert second.exit_code == 0, second.output
    report = json.loads(second.stdout)
    assert report["done"] == [str(src / "a.jpg")] and report["ignored_non_images"] == 4


@requires_weights
def test_only_writes_the_chosen_outputs_and_resumes_on_them(tmp_path, astronaut):
    src = tmp_path / "shoot"
    src.mkdir()
    for name in ("a", "b"):
        Image.fromarray(astronaut).resize((96, 96)).save(src / f"{name}.jpg")
    runner = CliRunner()
    first = runner.invoke(main, ["batch", str(src), "--only", "cutout", "--engine", "selfie", "-q"])
    assert first.exit_code == 0, first.output
    out = default_out(src)
    assert sorted(p.name for p in out.iterdir()) == ["a_cutout.png", "b_cutout.png"]
    again = runner.invoke(main, ["batch", str(src), "--only", "cutout", "--engine", "selfie", "--json", "-"])
    assert len(json.loads(again.stdout)["skipped"]) == 2  # the cut-out carries the stamp
    both = runner.invoke(main, ["batch", str(src), "--only", "matte,preview", "--engine", "selfie", "-q"])
    assert both.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_concat.jpg", "a_cutout.png", "a_matting.png",
                                                     "b_concat.jpg", "b_cutout.png", "b_matting.png"]


@pytest.mark.parametrize("args, words", [
    (["--only", "gif"], "--only: must be one or more of cutout, composite, matte, preview (comma-separated)"),
    (["--only", ","], "--only: must be one or more of"),
    (["--only", "composite"], "Invalid value for --only: composite needs a background (--bg)"),
])
def test_only_is_checked_before_any_work(tmp_path, args, words):
    (tmp_path / "shoot").mkdir()
    result = CliRunner().invoke(main, ["batch", str(tmp_path / "shoot"), *args])
    assert result.exit_code == 2 and words in result.output, result.output


@requires_weights
def test_the_library_batch_takes_only(tmp_path, astronaut):
    import fusionmat

    src = tmp_path / "shoot"
    src.mkdir()
    Image.fromarray(astronaut).resize((96, 96)).save(src / "a.png")
    report = fusionmat.batch(src, tmp_path / "out", engine="selfie", only="matte")
    assert report.done == [str(src / "a.png")] and [p.name for p in (tmp_path / "out").iterdir()] == ["a_matting.png"]


@requires_weights
def test_an_output_made_with_other_settings_is_redone_even_when_the_matte_is_current(tmp_path, astronaut):
    src = tmp_path / "shoot"
    src.mkdir()
    Image.fromarray(astronaut).resize((96, 96)).save(src / "a.jpg")
    runner = CliRunner()
    base = ["batch", str(src), "--engine", "selfie", "--out", str(tmp_path / "o"), "--json", "-", "-q"]
    runner.invoke(main, [*base, "--only", "cutout", "--threshold", "0.5"])  # a hard cut-out
    runner.invoke(main, [*base, "--only", "matte"])  # the matte, without the threshold
    again = runner.invoke(main, [*base, "--only", "matte,cutout"])
    assert json.loads(again.stdout)["done"] == [str(src / "a.jpg")]  # the hard cut-out is not kept
    alpha = np.asarray(Image.open(tmp_path / "o" / "a_cutout.png"))[..., 3]
    assert len(np.unique(alpha)) > 2
    last = runner.invoke(main, [*base, "--only", "preview,cutout"])
    assert json.loads(last.stdout)["skipped"] == [str(src / "a.jpg")] or last.exit_code == 0
