"""Reliability benchmark: every fault of issue 13 through the real CLI, each in a subprocess.

Usage:
    python benchmarks/faults.py [--count 200] [--engine modnet] [--keep DIR]

Scenarios:

- a ``--count``-file folder for ``batch`` (about 20 % bad files: truncated, empty and
  text-as-JPEG files, 1-pixel and decompression-bomb PNGs; a FIFO named like a photo and a broken
  symlink, which must be skipped; good photos in every mode: RGB, grey, RGBA, CMYK, 16-bit,
  animated GIF, no suffix, symlinked, nested; a matte that ``predict`` wrote beside one of them,
  to be left alone): a whole run, SIGINT, SIGTERM and SIGKILL mid-run (each followed by a
  re-run), and a small tmpfs as ``--out`` (10 KB per file: 2 MB for 200; needs root and mount;
  skipped, and said so, when it cannot be mounted) whose outputs are then copied to a real disk
  and the run resumed there;
- ``video clip.mp4 -o OUT --alpha png --bg white`` on a generated 2 s 320x240 clip, killed by
  SIGKILL mid-run and re-run; and an existing ``OUT/clip_cutout/`` holding the input clip and a
  notes.txt, which must be refused with nothing deleted;
- a background picture that would be an output: ``predict a.jpg -o beach.jpg --bg beach.jpg``,
  ``compose a.jpg --bg a_composite.jpg``, ``batch src --out out --bg out/p_composite.jpg``;
- images too wide for their output format: a 70000x64 PNG (its JPEG preview is over 65500 px)
  and a 17000x64 one with ``--format webp`` (over 16383 px), in a batch with good photos;
- ``--aspect 1:20`` on a 2400x2400 photo (restored: 2400x48000, over Pillow's 89.5 MP budget);
- ``predict - -o -`` fed 600 MB of zeros (the stream limit is 512 MB).

Prints a table, one row per scenario: exit statuses of its runs, good images done, bad files
named (in the JSON report, or by one ``error`` line on stderr naming the file), partial files
(an output at its final name that does not decode, a video with missing frames, or bytes written
to standard output by a refused run; checked after the stopped run and after the re-run), inputs
changed (sha256 before and after), temps left (files and folders named like fusionmat's temps,
``.<name>.<pid>-<random>.part*``, anywhere under the scenario's folders), runs whose stderr holds
a Python traceback, and the peak RSS of its runs (each run measured alone). Target: 100 % /
100 % / 0 / 0 / 0 / 0 tracebacks.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
from PIL import Image

BAD_KINDS = ("truncated", "empty", "text", "tiny", "bomb")
TEMP_NAME = re.compile(r"^\..+\.part")
"""Anything named like a staged temp (``.<name>.<pid>-<random>.part<suffix>``), file or folder."""
RUN_TIMEOUT = 1800.0
"""A run still going after this many seconds is killed and counted as failed."""
CLIP_FRAMES, CLIP_RATE, CLIP_SIZE = 20, 10, (320, 240)
"""The generated clip: 2 s at 10 frames/s, 320x240."""
DISK_KB_PER_FILE = 10
"""Size of the full-disk tmpfs per file of the batch folder (2 MB for the default 200 files)."""
STDIN_BYTES = "600M"
"""Fed to ``predict -`` (the stream limit is 512 MB)."""


# ---------------------------------------------------------------------------------------------
# Running the CLI


@dataclass
class Run:
    """One CLI run: exit status (-N: killed by signal N), wall time, its own peak RSS, stderr."""

    status: int
    seconds: float
    rss_mb: float
    stderr: str
    stdout_bytes: int

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "fusionmat", *map(str, args)]


def launch(cmd: list[str], *, cwd: Path | None = None, stdin=None,
           stop: tuple[int, Callable[[], bool]] | None = None) -> Run:
    """Run ``cmd`` to its end; ``stop`` = (signal, ready) sends the signal once ``ready()`` is true.

    The child is reaped with ``wait4`` so that its peak RSS is its own, not the maximum over every
    child this process has had."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL if stdin is None else stdin,
                                   stdout=out, stderr=err)
        sent = False
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if stop is not None and not sent and stop[1]():
                process.send_signal(stop[0])
                sent = True
            if time.perf_counter() - start > RUN_TIMEOUT:
                process.kill()
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return Run(process.returncode, seconds, usage.ru_maxrss / 1024.0, err.read().decode(errors="replace"),
                   out.seek(0, os.SEEK_END))


def error_lines(run: Run, name: str) -> list[str]:
    """The stderr lines naming ``name``, less a batch's closing recap (``  failed: ...``)."""
    return [line for line in run.stderr.splitlines() if name in line and not line.lstrip().startswith("failed:")]


def named_once(run: Run, name: str) -> bool:
    """Refused as asked: a non-zero exit, exactly one line naming ``name``, no traceback."""
    return run.status != 0 and len(error_lines(run, name)) == 1 and not run.traceback


# ---------------------------------------------------------------------------------------------
# Checking what is on disk


def digest(*paths: Path) -> dict[str, str]:
    """sha256 of every regular file at or under ``paths`` (links followed, FIFOs skipped)."""
    out = {}
    for root in paths:
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def changed(before: dict[str, str], *paths: Path) -> list[str]:
    after = digest(*paths)
    return sorted(k for k, v in before.items() if after.get(k) != v)


def video_frames(path: Path) -> int:
    """Frames that decode in ``path`` (-1 when it does not open)."""
    import av

    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0))
    except Exception:  # noqa: BLE001 - anything that does not decode is partial
        return -1


def partial_files(root: Path, frames: int | None = None) -> list[str]:
    """Outputs at their final names under ``root`` that do not decode (videos: fewer than
    ``frames`` frames). Temps (hidden names) are counted by :func:`temps_left` instead."""
    broken = []
    if not root.is_dir():
        return broken
    for path in root.rglob("*"):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix in (".png", ".jpg", ".webp"):
            try:
                with Image.open(path) as im:
                    im.load()
            except Exception:  # noqa: BLE001 - anything that does not decode is partial
                broken.append(str(path))
        elif path.suffix in (".mp4", ".webm") and frames is not None and video_frames(path) != frames:
            broken.append(str(path))
    return broken


def temps_left(*roots: Path) -> list[str]:
    """Files and folders named like fusionmat's temps under ``roots`` (links not followed)."""
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            found += [os.path.join(folder, n) for n in dirs + files if TEMP_NAME.match(n)]
    return found


@dataclass
class Row:
    """One scenario's line of the table; ``good`` / ``bad`` are None where the scenario has none."""

    name: str
    runs: list[Run] = field(default_factory=list)
    good: float | None = None
    bad: float | None = None
    partial: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    temps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def tracebacks(self) -> int:
        return sum(r.traceback for r in self.runs)

    @property
    def rss(self) -> float:
        return max((r.rss_mb for r in self.runs), default=0.0)

    @property
    def ok(self) -> bool:
        return (self.good in (None, 1.0) and self.bad in (None, 1.0) and not self.partial and not self.changed
                and not self.temps and not self.tracebacks)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def show(row: Row) -> None:
    click.echo(f"{row.name:34s} exit {'/'.join(str(r.status) for r in row.runs):9s} "
               f"({sum(r.seconds for r in row.runs):6.1f} s): good {percent(row.good)}, bad named {percent(row.bad)}, "
               f"partial {len(row.partial)}, inputs changed {len(row.changed)}, temps left {len(row.temps)}, "
               f"tracebacks {row.tracebacks}, peak RSS {row.rss:.0f} MB" + ("" if row.ok else "  <-- MISSED"))
    for note in row.notes:
        click.echo(f"    {note}")
    for what, items in (("partial", row.partial), ("changed", row.changed), ("temp", row.temps)):
        for item in items[:5]:
            click.echo(f"    {what}: {item}")
    for run in row.runs:
        if run.traceback:
            click.echo("    traceback: " + run.stderr.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# The batch folder (whole run, signals, full disk)


def build(root: Path, count: int) -> tuple[set[str], set[str]]:
    """The folder: (good relative paths, bad relative paths) — FIFOs and broken links are neither
    (they must be skipped, not failed)."""
    from skimage import data

    base = Image.fromarray(data.astronaut()).resize((192, 192))
    good, bad = set(), set()
    n_bad = count // 5
    for i in range(count - n_bad):
        folder = root / (f"set{i % 4}" if i % 3 else "")
        folder.mkdir(parents=True, exist_ok=True)
        kind = i % 8
        picture = base.rotate(i % 360)
        name = f"g{i:03d}"
        if kind == 0:
            path = folder / f"{name}.jpg"
            picture.save(path, quality=90)
        elif kind == 1:
            path = folder / f"{name}.png"
            picture.convert("L").save(path)
        elif kind == 2:
            path = folder / f"{name}.png"
            rgba = picture.convert("RGBA")
            rgba.putalpha(200)
            rgba.save(path)
        elif kind == 3:
            path = folder / f"{name}.jpg"
            picture.convert("CMYK").save(path)
        elif kind == 4:
            path = folder / f"{name}.png"
            Image.fromarray((np.asarray(picture.convert("L"), np.uint16) * 257).astype(np.uint16)).save(path)
        elif kind == 5:
            path = folder / f"{name}.gif"
            picture.save(path, save_all=True, append_images=[picture.rotate(5)], duration=100, loop=0)
        elif kind == 6:
            path = folder / name  # no suffix
            picture.save(path, format="PNG")
        else:
            target = root / "originals" / f"{name}.jpg"
            target.parent.mkdir(exist_ok=True)
            picture.save(target)
            path = folder / f"{name}_link.jpg"
            path.symlink_to(target)
            good.add(str(target.relative_to(root)))
        good.add(str(path.relative_to(root)))
    jpeg = next(root.rglob("g000.jpg")).read_bytes()
    for i in range(n_bad):
        kind = BAD_KINDS[i % len(BAD_KINDS)]
        path = root / f"bad{i:03d}_{kind}.{'png' if kind in ('tiny', 'bomb') else 'jpg'}"
        if kind == "truncated":
            path.write_bytes(jpeg[: len(jpeg) // 2])
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "text":
            path.write_text("not a photo\n")
        elif kind == "tiny":
            Image.new("RGB", (1, 1)).save(path)
        else:
            Image.new("1", (13000, 13000)).save(path)
        bad.add(str(path.relative_to(root)))
    os.mkfifo(root / "pipe.jpg")
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    first = sorted(good)[0]
    Image.new("L", (8, 8)).save((root / first).with_name(Path(first).stem + "_matting.png"))  # predict's output
    return good, bad


def batch_command(src: Path, out: Path, engine: str, report: Path) -> list[str]:
    return cli("batch", src, "-r", "--out", out, "--engine", engine, "--json", report, "--no-progress")


def judge(src: Path, report: Path, good: set[str], bad: set[str]) -> tuple[float, float, list[str]]:
    """(good done or skipped as up to date, bad named with a reason, good files wrongly failed)."""
    if not report.is_file():
        return 0.0, 0.0, ["no JSON report"]
    data = json.loads(report.read_text())
    done = {str(Path(p).relative_to(src)) for p in data["done"] + data["skipped"]}
    named = {str(Path(f["file"]).relative_to(src)) for f in data["failed"] if f.get("error")}
    return len(done & good) / len(good), len(named & bad) / len(bad), sorted(named - bad)


def batch_scenarios(base: Path, engine: str, count: int) -> list[Row]:
    src = base / "photos"
    src.mkdir(parents=True, exist_ok=True)
    good, bad = build(src, count)
    before = digest(src)
    click.echo(f"batch folder: {count} files, {len(good)} good photos, {len(bad)} bad, a FIFO, a broken link, "
               f"a matte written by predict")
    rows = []
    for name, sig in (("batch: whole run", None), ("batch: SIGINT mid-run", signal.SIGINT),
                      ("batch: SIGTERM mid-run", signal.SIGTERM), ("batch: SIGKILL mid-run", signal.SIGKILL)):
        out = base / (sig.name.lower() if sig else "plain")
        row = Row(name)
        stop = None if sig is None else (sig, lambda out=out: len(list(out.rglob("*_matting.png"))) >= len(good) // 3)
        row.runs.append(launch(batch_command(src, out, engine, base / f"{out.name}-first.json"), stop=stop))
        row.partial += partial_files(out)  # a stopped run leaves complete files or none
        if sig is not None:
            row.notes.append(f"stopped with {len(list(out.rglob('*_matting.png')))} matte(s) and "
                             f"{len(temps_left(out))} temp(s) on disk")
        report = base / f"{out.name}.json"
        row.runs.append(launch(batch_command(src, out, engine, report)))
        row.good, row.bad, wrong = judge(src, report, good, bad)
        if wrong:
            row.notes.append(f"wrongly failed: {wrong}")
        row.partial += partial_files(out)
        row.changed = changed(before, src)
        row.temps = temps_left(out, src)
        rows.append(row)
        show(row)
    row = full_disk(base, src, engine, good, bad, before, DISK_KB_PER_FILE * count)
    if row is not None:
        rows.append(row)
        show(row)
    return rows


def full_disk(base: Path, src: Path, engine: str, good: set[str], bad: set[str], before: dict,
              size_kb: int) -> Row | None:
    """A small tmpfs as --out (10 KB per file of the folder: 2 MB for 200, full about half way): each
    failure named, no partial file, no temp; then what was written is copied to a real disk and the
    run resumed there."""
    small = base / "small_disk"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(small)],
                             capture_output=True).returncode == 0
    if not mounted:
        click.echo("batch: small disk: skipped (cannot mount a tmpfs here; needs root)")
        return None
    row = Row(f"batch: {size_kb / 1000:g} MB disk, resumed")
    resumed = base / "disk_resumed"
    try:
        report = base / "disk.json"
        row.runs.append(launch(batch_command(src, small, engine, report)))
        data = json.loads(report.read_text()) if report.is_file() else {"done": [], "failed": []}
        failed = {str(Path(f["file"]).relative_to(src)): f["error"] for f in data["failed"]}
        no_space = sum("No space left" in e for e in failed.values())
        unnamed = [k for k, e in failed.items() if not e]
        row.notes.append(f"on {size_kb} KB: {len(data['done'])} done, {no_space} named 'No space left on device'"
                         + (f", {len(unnamed)} failed without a reason" if unnamed else "")
                         + ("" if no_space else " (the disk did not fill: use a larger --count)"))
        row.partial += partial_files(small)
        row.temps += temps_left(small)
        shutil.copytree(small, resumed, symlinks=True)
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)
    report = base / "disk_resumed.json"
    row.runs.append(launch(batch_command(src, resumed, engine, report)))
    row.good, row.bad, wrong = judge(src, report, good, bad)
    if wrong:
        row.notes.append(f"wrongly failed: {wrong}")
    row.partial += partial_files(resumed)
    row.changed = changed(before, src)
    row.temps += temps_left(resumed, src)
    return row


# ---------------------------------------------------------------------------------------------
# Video


def make_clip(path: Path) -> None:
    """2 s, 320x240, 10 frames/s: the astronaut panned across the frame."""
    import av
    from skimage import data

    w, h = CLIP_SIZE
    picture = Image.fromarray(data.astronaut())
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=CLIP_RATE)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(CLIP_FRAMES):
            x = 6 * i
            frame = picture.crop((x, 0, x + 400, 300)).resize((w, h))
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def video_scenarios(base: Path, engine: str) -> list[Row]:
    folder = base / "video"
    folder.mkdir()
    clip = folder / "clip.mp4"
    make_clip(clip)
    out = folder / "out"
    before = digest(clip)
    command = cli("video", clip, "-o", out, "--alpha", "png", "--bg", "white", "--engine", engine, "--no-progress")

    row = Row("video: SIGKILL mid-run, re-run")
    frames_written = lambda: len(list(out.rglob("[0-9]*.png"))) >= CLIP_FRAMES // 2  # noqa: E731
    row.runs.append(launch(command, stop=(signal.SIGKILL, frames_written)))
    row.partial += partial_files(out, CLIP_FRAMES)  # nothing at a final name, or complete
    row.notes.append(f"killed with {len(list(out.rglob('[0-9]*.png')))} frame(s) and {len(temps_left(folder))} "
                     "temp(s) on disk; the re-run must remove the temps")
    row.runs.append(launch(command))
    row.partial += partial_files(out, CLIP_FRAMES)
    cutout = out / "clip_cutout"
    pngs = sorted(cutout.glob("*.png")) if cutout.is_dir() else []
    rgba = sum(1 for p in pngs if Image.open(p).mode == "RGBA")
    complete = [video_frames(out / "clip_matting.mp4") == CLIP_FRAMES,
                video_frames(out / "clip_composite.mp4") == CLIP_FRAMES,
                len(pngs) == rgba == CLIP_FRAMES]
    row.good = sum(complete) / len(complete)
    row.notes.append(f"outputs complete (matting.mp4, composite.mp4, {CLIP_FRAMES} RGBA PNGs): {complete}")
    row.changed = changed(before, clip)
    row.temps = temps_left(folder)
    rows = [row]
    show(row)

    # An existing <stem>_cutout/ that is not an earlier output: it holds the input clip itself.
    row = Row("video: OUT/clip_cutout/ not ours")
    other = folder / "other"
    holder = other / "clip_cutout"
    holder.mkdir(parents=True)
    shutil.copy(clip, holder / "clip.mp4")
    (holder / "notes.txt").write_text("my notes\n")
    before, entries = digest(other), set(other.rglob("*"))
    row.runs.append(launch(cli("video", holder / "clip.mp4", "-o", other, "--alpha", "png", "--bg", "white",
                               "--engine", engine, "--no-progress")))
    row.bad = float(named_once(row.runs[-1], "clip_cutout"))
    row.notes += [f"message: {line}" for line in error_lines(row.runs[-1], "clip_cutout")]
    row.changed = changed(before, other)
    extra = sorted(str(p) for p in set(other.rglob("*")) - entries)
    if extra:
        row.notes.append(f"made: {extra}")
    row.partial += partial_files(other, CLIP_FRAMES)
    row.temps = temps_left(other)
    rows.append(row)
    show(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Backgrounds that would be outputs, images too wide, the pixel budget, standard input


def backgrounds(base: Path, engine: str) -> list[Row]:
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((192, 192))
    scenery = Image.fromarray(data.coffee()).resize((200, 150))
    rows = []
    cases = (("bg = predict -o FILE", ["predict", "a.jpg", "-o", "beach.jpg", "--bg", "beach.jpg"], "beach.jpg"),
             ("bg = compose's composite", ["compose", "a.jpg", "--bg", "a_composite.jpg"], "a_composite.jpg"),
             ("bg = a batch composite", ["batch", "src", "--out", "out", "--bg", "out/p_composite.jpg",
                                         "--json", base / "batch-bg.json"], "out/p_composite.jpg"))
    for name, args, bg in cases:
        folder = base / f"bg{len(rows)}"
        folder.mkdir()
        photo.save(folder / "a.jpg")
        if args[0] == "batch":
            (folder / "src").mkdir()
            photo.save(folder / "src" / "p.jpg")
            photo.rotate(10).save(folder / "src" / "q.jpg")
        (folder / bg).parent.mkdir(parents=True, exist_ok=True)
        scenery.save(folder / bg)
        before = digest(folder)
        row = Row(name)
        row.runs.append(launch(cli(*args, "--engine", engine, "--no-progress"), cwd=folder))
        row.bad = float(named_once(row.runs[-1], bg))
        row.notes += [f"message: {line}" for line in error_lines(row.runs[-1], bg)]
        if args[0] == "batch":
            report = base / "batch-bg.json"
            data = json.loads(report.read_text()) if report.is_file() else {"done": []}
            row.good = float(any(Path(p).name == "q.jpg" for p in data["done"]))
        row.changed = changed(before, folder)
        row.partial = partial_files(folder)
        row.temps = temps_left(folder)
        rows.append(row)
        show(row)
    return rows


def wide(base: Path, engine: str) -> Row:
    from skimage import data

    folder = base / "wide"
    src = folder / "src"
    src.mkdir(parents=True)
    face = Image.fromarray(data.astronaut())
    for width in (70000, 17000):
        strip = Image.new("RGB", (width, 64), (90, 120, 150))
        strip.paste(face.resize((64, 64)), (width // 2, 0))
        strip.save(src / f"w{width}.png")
    good = {"ok1.jpg", "ok2.jpg", "ok3.png"}
    for i, name in enumerate(sorted(good)):
        face.resize((192, 192)).rotate(5 * i).save(src / name)
    before = digest(src)
    report = folder / "report.json"
    row = Row("wide: 70000 px JPEG, 17000 px WebP")
    row.runs.append(launch(cli("batch", src, "--out", folder / "out", "--bg", "white", "--format", "webp",
                               "--engine", engine, "--json", report, "--no-progress")))
    data = json.loads(report.read_text()) if report.is_file() else {"done": [], "failed": []}
    row.good = len({Path(p).name for p in data["done"]} & good) / len(good)
    named = [w for w in ("w70000.png", "w17000.png") if named_once(row.runs[-1], w)]
    row.bad = len(named) / 2
    for w in ("w70000.png", "w17000.png"):
        row.notes += [f"message: {line}" for line in error_lines(row.runs[-1], w)]
    row.changed = changed(before, src)
    row.partial = partial_files(folder)
    row.temps = temps_left(folder)
    left = sorted(p.name for p in (folder / "out").glob("w*_*"))
    if left:
        row.notes.append(f"outputs left by the failed images (complete files): {left}")
    show(row)
    return row


def aspect(base: Path, engine: str) -> Row:
    from skimage import data

    folder = base / "aspect"
    folder.mkdir()
    photo = Image.new("RGB", (2400, 2400), (200, 210, 220))
    photo.paste(Image.fromarray(data.astronaut()), (900, 900))
    photo.save(folder / "big.jpg", quality=90)
    before = digest(folder)
    row = Row("aspect 1:20 on 2400x2400 (115 MP)")
    row.runs.append(launch(cli("predict", "big.jpg", "-o", "out", "--aspect", "1:20", "--engine", engine,
                               "--no-progress"), cwd=folder))
    run = row.runs[-1]
    row.bad = float(named_once(run, "big.jpg") and "too many pixels" in run.stderr)
    row.notes += [f"message: {line}" for line in error_lines(run, "big.jpg")]
    row.changed = changed(before, folder)
    row.partial = partial_files(folder)
    row.temps = temps_left(folder)
    show(row)
    return row


def stdin(base: Path, engine: str) -> Row:
    folder = base / "stdin"
    folder.mkdir()
    row = Row(f"stdin {STDIN_BYTES}B to predict - -o -")
    feeder = subprocess.Popen(["head", "-c", STDIN_BYTES, "/dev/zero"], stdout=subprocess.PIPE)
    try:
        row.runs.append(launch(cli("predict", "-", "-o", "-", "--engine", engine, "--no-progress"), cwd=folder,
                               stdin=feeder.stdout))
    finally:
        feeder.stdout.close()  # head gets SIGPIPE once fusionmat stopped reading
        feeder.wait()
    run = row.runs[-1]
    row.bad = float(named_once(run, "standard input"))
    row.notes += [f"message: {line}" for line in error_lines(run, "standard input")]
    if run.stdout_bytes:
        row.partial.append(f"standard output: {run.stdout_bytes} bytes written by a refused run")
    row.temps = temps_left(folder)
    show(row)
    return row


# ---------------------------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = ["| scenario | exit | good done | bad named | partial | inputs changed | temps left | tracebacks "
             "| peak RSS |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r.name} | {'/'.join(str(x.status) for x in r.runs)} | {percent(r.good)} | {percent(r.bad)} "
                     f"| {len(r.partial)} | {len(r.changed)} | {len(r.temps)} | {r.tracebacks} | {r.rss:.0f} MB |")
    return "\n".join(lines)


@click.command()
@click.option("--count", default=200, show_default=True, help="Files in the batch folder.")
@click.option("--engine", default="modnet", show_default=True)
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build the folders here and keep them (default: a temporary folder).")
def main(count, engine, keep):
    base = keep or Path(tempfile.mkdtemp(prefix="fusionmat-faults-"))
    base.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    click.echo(f"engine {engine}, folders in {base}")
    try:
        rows = batch_scenarios(base, engine, count)
        rows += video_scenarios(base, engine)
        rows += backgrounds(base, engine)
        rows += [wide(base, engine), aspect(base, engine), stdin(base, engine)]
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
    goods = [r.good for r in rows if r.good is not None]
    bads = [r.bad for r in rows if r.bad is not None]
    click.echo(f"\n{table(rows)}\n")
    total = {what: sum(len(getattr(r, what)) for r in rows) for what in ("partial", "changed", "temps")}
    click.echo(f"TOTAL ({time.perf_counter() - began:.0f} s): good done {min(goods):.0%}, bad named {min(bads):.0%}, "
               f"partial files {total['partial']}, inputs changed {total['changed']}, temps left {total['temps']}, "
               f"runs with a traceback {sum(r.tracebacks for r in rows)}, peak RSS {max(r.rss for r in rows):.0f} MB")
    missed = [r.name for r in rows if not r.ok]
    click.echo("all targets met" if not missed else f"targets missed: {', '.join(missed)}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
