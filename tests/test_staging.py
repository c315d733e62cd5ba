"""The staging helper: temp names beside the target, commit by rename, modes from the umask, stale
temps of dead processes removed, and nothing deleted that fusionmat did not make."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from fusionmat.errors import OutputError
from fusionmat.io.staging import (
    NAME_MAX,
    TEMP_NAME,
    check_replaceable,
    clean_stale_temps,
    current_umask,
    make_temp,
    staged,
)
from tests.conftest import ROOT

FRAME = re.compile(r"\d{6}\.png")


def is_frame(name: str) -> bool:
    return FRAME.fullmatch(name) is not None


def run_child(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh Python with fusionmat importable; its pid is dead when this returns."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)


def test_a_file_is_committed_by_rename_with_the_umask_mode(tmp_path):
    final = tmp_path / "out.png"
    with staged(final) as temp:
        assert temp.parent == tmp_path and TEMP_NAME.match(temp.name) and str(os.getpid()) in temp.name
        temp.write_bytes(b"new")
        assert not final.exists()  # nothing at the final name before the commit
    assert final.read_bytes() == b"new"
    assert os.stat(final).st_mode & 0o777 == 0o666 & ~current_umask()
    assert os.listdir(tmp_path) == ["out.png"]


def test_a_folder_is_committed_by_rename_with_the_umask_mode(tmp_path):
    final = tmp_path / "clip_cutout"
    with staged(final, folder=True, owned=is_frame) as temp:
        assert temp.is_dir() and TEMP_NAME.match(temp.name)
        (temp / "000001.png").write_bytes(b"frame")
    assert os.listdir(final) == ["000001.png"]
    assert os.stat(final).st_mode & 0o777 == 0o777 & ~current_umask()
    assert os.listdir(tmp_path) == ["clip_cutout"]


@pytest.mark.parametrize("folder", [False, True])
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_the_temp_is_removed_when_the_block_fails(tmp_path, folder, error):
    final = tmp_path / "x"
    with pytest.raises(error):
        with staged(final, folder=folder) as temp:
            (temp / "000001.png" if folder else temp).write_bytes(b"half")
            raise error
    assert os.listdir(tmp_path) == []


def test_a_failed_block_leaves_the_earlier_file(tmp_path):
    final = tmp_path / "x.png"
    final.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with staged(final) as temp:
            temp.write_bytes(b"half")
            raise RuntimeError
    assert os.listdir(tmp_path) == ["x.png"] and final.read_bytes() == b"old"


def test_a_folder_that_is_not_an_earlier_output_is_refused_and_kept(tmp_path):
    final = tmp_path / "clip_cutout"
    final.mkdir()
    (final / "clip.mp4").write_bytes(b"the input")
    (final / "000001.png").write_bytes(b"a frame")
    with pytest.raises(OutputError, match=r"clip_cutout: exists and is not an earlier output .*clip\.mp4"):
        with staged(final, folder=True, owned=is_frame) as temp:
            (temp / "000001.png").write_bytes(b"new frame")
    assert sorted(os.listdir(final)) == ["000001.png", "clip.mp4"]
    assert (final / "clip.mp4").read_bytes() == b"the input" and (final / "000001.png").read_bytes() == b"a frame"
    assert os.listdir(tmp_path) == ["clip_cutout"]  # the temp folder went


def test_without_a_rule_any_existing_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "000001.png").write_bytes(b"x")
    with pytest.raises(OutputError, match="refusing to replace it"):
        with staged(tmp_path / "out", folder=True):
            pass
    assert os.listdir(tmp_path / "out") == ["000001.png"]


def test_check_replaceable_names_what_it_refuses(tmp_path):
    assert check_replaceable(tmp_path / "missing", is_frame) == []
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(OutputError, match="file: is not a folder"):
        check_replaceable(tmp_path / "file", is_frame)
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "000001.png").write_bytes(b"x")
    assert check_replaceable(folder, is_frame) == [folder / "000001.png"]
    (folder / "000002.png").symlink_to(tmp_path / "file")  # a link is not a frame fusionmat wrote
    with pytest.raises(OutputError, match="it holds 000002.png"):
        check_replaceable(folder, is_frame)
    (folder / "000002.png").unlink()
    (folder / "sub").mkdir()
    with pytest.raises(OutputError, match="it holds sub"):
        check_replaceable(folder, is_frame)


def test_an_earlier_output_folder_is_replaced(tmp_path):
    final = tmp_path / "clip_cutout"
    final.mkdir()
    for i in (1, 2, 3):
        (final / f"{i:06d}.png").write_bytes(b"old")
    with staged(final, folder=True, owned=is_frame) as temp:
        for i in (1, 2):
            (temp / f"{i:06d}.png").write_bytes(b"new")
    assert sorted(os.listdir(final)) == ["000001.png", "000002.png"]
    assert (final / "000001.png").read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["clip_cutout"]  # the earlier output is gone, no folder left aside


def test_a_file_that_arrives_during_the_swap_is_kept(tmp_path):
    """The rule sees the folder before the two renames: a file written there afterwards is foreign
    and must survive the replacement (kept aside, not deleted)."""
    final = tmp_path / "clip_cutout"
    final.mkdir()
    (final / "000001.png").write_bytes(b"old")

    def owned_then_a_user_writes(name: str) -> bool:
        (final / "late.txt").write_text("mine")
        return is_frame(name)

    with staged(final, folder=True, owned=owned_then_a_user_writes) as temp:
        (temp / "000001.png").write_bytes(b"new")
    assert (final / "000001.png").read_bytes() == b"new"
    kept = [p for p in tmp_path.rglob("late.txt")]
    assert len(kept) == 1 and kept[0].read_text() == "mine"
    assert not TEMP_NAME.match(kept[0].parent.name)  # so no stale-temp clean-up ever removes it
    clean_stale_temps(tmp_path)
    assert kept[0].read_text() == "mine"


def test_a_link_at_the_target_is_kept(tmp_path):
    real = tmp_path / "real.png"
    real.write_bytes(b"old")
    (tmp_path / "link.png").symlink_to(real)
    with staged(tmp_path / "link.png") as temp:
        temp.write_bytes(b"new")
    assert (tmp_path / "link.png").is_symlink() and real.read_bytes() == b"new"


def test_a_file_is_never_renamed_over_a_folder(tmp_path):
    (tmp_path / "out.png").mkdir()
    (tmp_path / "out.png" / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="out.png: is not a regular file"):
        with staged(tmp_path / "out.png") as temp:
            temp.write_bytes(b"new")
    assert os.listdir(tmp_path) == ["out.png"] and (tmp_path / "out.png" / "keep.txt").read_text() == "x"


def test_the_temps_of_a_killed_process_are_removed_and_nothing_else(tmp_path):
    """A SIGKILLed run leaves a temp file and a temp folder of frames; the next run removes both,
    and leaves a running process's temps, look-alikes without a pid, and links alone."""
    killed = run_child(f"""
import os, signal
from pathlib import Path
from fusionmat.io.staging import staged
out = Path({str(tmp_path)!r})
with staged(out / "clip_matting.mp4") as movie, staged(out / "clip_cutout", folder=True) as frames:
    movie.write_bytes(b"half a movie")
    (frames / "000001.png").write_bytes(b"a frame")
    os.kill(os.getpid(), signal.SIGKILL)
""")
    assert killed.returncode == -9, killed.stderr
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 2 and all(TEMP_NAME.match(name) for name in left)
    mine = make_temp(tmp_path / "x_cutout", folder=True)  # this process is alive
    (tmp_path / ".notes.part").mkdir()  # no pid, no random part: not a temp of fusionmat
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep.txt").write_text("x")
    dead_pid = run_child("import os; print(os.getpid())").stdout.strip()
    (tmp_path / f".y_cutout.fusionmat-{dead_pid}-abcdefgh.part").symlink_to(tmp_path / "elsewhere")
    removed = clean_stale_temps(tmp_path)
    assert sorted(p.name for p in removed) == left
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [mine.name, ".notes.part", "elsewhere", f".y_cutout.fusionmat-{dead_pid}-abcdefgh.part"])
    assert (tmp_path / "elsewhere" / "keep.txt").read_text() == "x"


@pytest.mark.parametrize("name", ["a" * 235 + "_matting.png", "é" * 117 + "_matting.png", "x" * 251 + ".png"])
def test_a_long_name_gets_a_temp_name_that_fits(tmp_path, name):
    """The temp's target part is cut (whole characters) so the temp name fits in 255 bytes as the
    final name does, and a killed run's temp of that name is still recognised."""
    final = tmp_path / name
    left = run_child(f"""
from pathlib import Path
from fusionmat.io.staging import make_temp
print(make_temp(Path({str(final)!r})).name)
""")
    assert left.returncode == 0, left.stderr
    temp = left.stdout.strip()
    assert len(temp.encode()) <= NAME_MAX and TEMP_NAME.match(temp) and temp.endswith(".part.png")
    assert [p.name for p in clean_stale_temps(tmp_path)] == [temp]
    with staged(final) as path:
        path.write_bytes(b"fits")
    assert final.read_bytes() == b"fits" and os.listdir(tmp_path) == [name]


def test_a_link_to_an_earlier_output_folder_is_kept(tmp_path):
    real = tmp_path / "frames"
    real.mkdir()
    (real / "000001.png").write_bytes(b"old")
    (tmp_path / "link").symlink_to(real)
    assert check_replaceable(tmp_path / "link", is_frame) == [real / "000001.png"]
    with staged(tmp_path / "link", folder=True, owned=is_frame) as temp:
        (temp / "000001.png").write_bytes(b"new")
    assert (tmp_path / "link").is_symlink() and (real / "000001.png").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "link"]


def test_a_temp_named_with_this_pid_that_this_process_did_not_make_is_stale(tmp_path):
    """In a container every run may get the same pid: a temp a killed run left under the pid this
    process has now must still be removed, while this process's own temps are kept."""
    left = tmp_path / f".clip_cutout.fusionmat-{os.getpid()}-abcdefgh.part"
    left.mkdir()
    (left / "000001.png").write_bytes(b"frame")
    (tmp_path / f".clip_matting.mp4.fusionmat-{os.getpid()}-abcdefgh.part.mp4").write_bytes(b"half")
    with staged(tmp_path / "x_matting.mp4") as mine, staged(tmp_path / "x_cutout", folder=True) as frames:
        removed = clean_stale_temps(tmp_path)
        assert mine.exists() and frames.is_dir()
    matte = f".clip_matting.mp4.fusionmat-{os.getpid()}-abcdefgh.part.mp4"
    assert sorted(p.name for p in removed) == sorted([left.name, matte])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x_cutout", "x_matting.mp4"]


def test_a_users_dot_part_files_and_folders_are_never_taken_for_temps(tmp_path):
    """Names that look like temps (a number, a dot-part ending) but lack fusionmat's mark stay,
    however old, even when the number is no running process."""
    names = [".photos.2023-backup.part", ".notes.backup.part", ".my thesis.draft01.part.tex",
             ".x.99999999-abcdefgh.part"]
    for name in names:
        (tmp_path / name).write_text("precious")
        os.utime(tmp_path / name, (0, 0))  # 1970: older than any age rule
    album = tmp_path / ".album.2023-summer.part"
    album.mkdir()
    (album / "keep.jpg").write_text("picture")
    assert clean_stale_temps(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names, album.name])
    assert (album / "keep.jpg").read_text() == "picture"
