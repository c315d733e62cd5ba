"""A re-run redoes an image when its input or the settings that shape its outputs changed."""
from __future__ import annotations

import os
import shutil

import numpy as np
from click.testing import CliRunner
from PIL import Image

from fusionmat.cli import main
from fusionmat.io.write import save_image
from fusionmat.outputs.resume import is_up_to_date, read_stamp, settings_key, source_stamp, stamp
from tests.conftest import requires_weights


def stamped(tmp_path, key="k1"):
    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8), "red").save(image)
    outputs = {"matting": tmp_path / "a_matting.png", "concat": tmp_path / "a_concat.jpg"}
    save_image(outputs["concat"], np.zeros((8, 16, 3), np.uint8), text={"fusionmat": stamp(image, key)})
    save_image(outputs["matting"], np.zeros((8, 8), np.float32), text={"fusionmat": stamp(image, key)})
    return image, outputs


def test_up_to_date_needs_every_output_and_the_same_stamp(tmp_path):
    image, outputs = stamped(tmp_path)
    assert is_up_to_date(image, outputs, "k1")
    assert not is_up_to_date(image, outputs, "k2")  # other settings
    save_image(outputs["concat"], np.zeros((8, 16, 3), np.uint8), text={"fusionmat": stamp(image, "k0")})
    assert not is_up_to_date(image, outputs, "k1")  # one output made with other settings: redone
    outputs["concat"].unlink()
    assert not is_up_to_date(image, outputs, "k1")  # an output is missing


def test_an_input_replaced_by_an_older_file_is_not_up_to_date(tmp_path):
    image, outputs = stamped(tmp_path)
    older = tmp_path / "older.png"
    Image.new("RGB", (20, 10), "blue").save(older)
    os.utime(older, (1_000_000, 1_000_000))
    shutil.copy2(older, image)  # cp -p: the replacement keeps its older date
    assert image.stat().st_mtime < outputs["matting"].stat().st_mtime
    assert not is_up_to_date(image, outputs, "k1")


def test_a_touched_input_is_not_up_to_date(tmp_path):
    image, outputs = stamped(tmp_path)
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns - 1_000_000))  # even an earlier time
    assert not is_up_to_date(image, outputs, "k1")


def rewrite_in_place(image, data: bytes) -> None:
    """Replace the bytes of ``image`` and put its modification time back, as ``exiftool -P`` does."""
    st = image.stat()
    assert len(data) == st.st_size and data != image.read_bytes()
    image.write_bytes(data)
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert image.stat().st_mtime_ns == st.st_mtime_ns


def test_an_input_edited_in_place_with_its_time_restored_is_not_up_to_date(tmp_path):
    image, outputs = stamped(tmp_path)
    data = bytearray(image.read_bytes())
    data[-5] ^= 0xFF  # the same size, one byte changed (in the PNG's end chunk's checksum)
    rewrite_in_place(image, bytes(data))
    assert not is_up_to_date(image, outputs, "k1")


def test_the_stamp_reads_a_regular_file_only(tmp_path):
    """A FIFO given as a photo is not read by the stamp (that would take the photo's bytes)."""
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert "sha256" not in source_stamp(fifo) and "sha256" in source_stamp(stamped(tmp_path)[0])


def test_a_matte_without_a_stamp_is_redone(tmp_path):
    image, outputs = stamped(tmp_path)
    save_image(outputs["matting"], np.zeros((8, 8), np.float32))
    assert read_stamp(outputs["matting"]) is None and not is_up_to_date(image, outputs, "k1")


def test_settings_key_follows_values_and_file_contents(tmp_path):
    picture = tmp_path / "bg.png"
    Image.new("RGB", (4, 4), "red").save(picture)
    key = settings_key({"bg": picture, "fit": "cover"})
    assert key == settings_key({"fit": "cover", "bg": picture})  # order does not matter
    assert key != settings_key({"bg": picture, "fit": "contain"})
    Image.new("RGB", (5, 4), "green").save(picture)  # the same path, another picture
    assert key != settings_key({"bg": picture, "fit": "cover"})


@requires_weights
def test_batch_rerun_redoes_what_changed(tmp_path, astronaut):
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    Image.fromarray(astronaut).resize((160, 160)).save(photos / "a.png")
    Image.fromarray(astronaut).resize((128, 128)).save(photos / "b.png")
    args = ["batch", str(photos), "--out", str(out), "--bg", "#ff0000"]
    assert CliRunner().invoke(main, args).exit_code == 0
    red = np.asarray(Image.open(out / "a_composite.jpg"))[0, 0]
    assert red[0] > 200 and red[1] < 60

    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "0 done, 2 skipped" in again.output

    blue = CliRunner().invoke(main, [*args[:-1], "#0000ff"])  # another background: every composite redone
    assert blue.exit_code == 0 and "2 done, 0 skipped" in blue.output
    assert np.asarray(Image.open(out / "a_composite.jpg"))[0, 0][2] > 200

    older = tmp_path / "older.png"
    Image.fromarray(astronaut).resize((96, 64)).save(older)
    os.utime(older, (1_000_000, 1_000_000))
    shutil.copy2(older, photos / "b.png")  # replaced by an older-dated photo of another size
    third = CliRunner().invoke(main, [*args[:-1], "#0000ff"])
    assert third.exit_code == 0 and "1 done, 1 skipped" in third.output
    assert Image.open(out / "b_matting.png").size == (96, 64)


@requires_weights
def test_batch_redoes_a_photo_edited_in_place_with_its_time_restored(tmp_path, astronaut):
    """An orientation flip or ``exiftool -P`` keeps the size and the date; the matte must follow."""
    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    small = Image.fromarray(astronaut).resize((96, 96))
    small.save(photos / "a.png")
    args = ["batch", str(photos), "--out", str(out), "--engine", "selfie"]
    assert "1 done, 0 skipped" in CliRunner().invoke(main, args).output
    before = np.asarray(Image.open(out / "a_matting.png"))
    flipped = tmp_path / "flipped.png"
    small.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    data = flipped.read_bytes()
    size = (photos / "a.png").stat().st_size
    data = data[:size] if len(data) >= size else data + b"\0" * (size - len(data))  # PNG ignores trailing bytes
    rewrite_in_place(photos / "a.png", data)
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "1 done, 0 skipped" in again.output, again.output
    after = np.asarray(Image.open(out / "a_matting.png"))
    assert np.abs(after.astype(int) - before[:, ::-1]).mean() < np.abs(after.astype(int) - before).mean()


@requires_weights
def test_batch_removes_temp_files_of_a_killed_run(tmp_path, astronaut):
    import subprocess
    import sys

    photos, out = tmp_path / "photos", tmp_path / "out"
    photos.mkdir()
    out.mkdir()
    Image.fromarray(astronaut).resize((64, 64)).save(photos / "a.png")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / f".a_matting.png.fusionmat-{int(dead.stdout)}-k2j3h4f5.part.png"
    live = out / f".a_concat.jpg.fusionmat-{os.getppid()}-abcdefgh.part.jpg"  # another running process's: kept
    stale.write_bytes(b"partial")
    live.write_bytes(b"partial")
    result = CliRunner().invoke(main, ["batch", str(photos), "--out", str(out), "--engine", "selfie"])
    assert "removed 1 temp file(s)" in result.output
    assert not stale.exists() and live.exists()


def test_compose_skips_an_up_to_date_composite_and_redoes_a_changed_one(tmp_path, astronaut):
    """compose writes no matte: its composite (JPEG comment or PNG text) carries the stamp."""
    photo, matte = tmp_path / "p.png", tmp_path / "m.png"
    Image.fromarray(astronaut).resize((64, 64)).save(photo)
    alpha = np.zeros((64, 64), np.uint8)
    alpha[16:48, 16:48] = 255
    Image.fromarray(alpha).save(matte)
    args = ["compose", str(photo), "--matte", str(matte), "--bg", "#ff0000", "-o", str(tmp_path / "out")]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0 and "skipped" not in first.output
    assert read_stamp(tmp_path / "out" / "p_composite.jpg") is not None
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and "up to date, skipped" in again.output
    blue = CliRunner().invoke(main, [*args[:-3], "#0000ff", "-o", str(tmp_path / "out")])
    assert blue.exit_code == 0 and "skipped" not in blue.output
    assert np.asarray(Image.open(tmp_path / "out" / "p_composite.jpg"))[0, 0, 2] > 200
    forced = CliRunner().invoke(main, [*args[:-3], "#0000ff", "-o", str(tmp_path / "out"), "--overwrite"])
    assert forced.exit_code == 0 and "skipped" not in forced.output
