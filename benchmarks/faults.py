"""Reliability benchmark: a 200-file folder with bad files, a full disk, and runs stopped by
SIGINT, SIGTERM and SIGKILL, each followed by a re-run.

Usage:
    python benchmarks/faults.py [--count 200] [--engine modnet] [--keep DIR]

Prints, for each scenario and in total: good images done, bad files named (with their
reason), partial files (an output at its final name that does not decode), inputs changed
(sha256 before and after), temp files left (``.*.part*`` after the closing re-run) and the
peak RSS of the runs. Target: 100 % / 100 % / 0 / 0 / 0.

About 20 % of the files are bad: truncated, empty and text-as-JPEG files, 1-pixel and
decompression-bomb PNGs, a FIFO named like a photo, a broken symlink; the good ones come in
every mode (RGB, grey, RGBA, CMYK, 16-bit, animated GIF, no suffix, symlinked, nested), with a
matte that `predict` wrote beside one of them (it must be left alone). The full disk is a
2 MB tmpfs (needs root and mount; skipped, and said so, when it cannot be mounted).
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
from PIL import Image

BAD_KINDS = ("truncated", "empty", "text", "tiny", "bomb")


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


def digest(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root`` (links followed, FIFOs skipped)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def partial_files(out: Path) -> list[str]:
    """Outputs at their final names that do not decode."""
    broken = []
    for path in out.rglob("*"):
        if path.is_file() and not path.name.startswith(".") and path.suffix in (".png", ".jpg"):
            try:
                with Image.open(path) as im:
                    im.load()
            except Exception:  # noqa: BLE001 - anything that does not decode is partial
                broken.append(str(path))
    return broken


def temp_files(out: Path) -> list[str]:
    return [str(p) for p in out.rglob(".*.part*")]


def command(src: Path, out: Path, engine: str, report: Path) -> list[str]:
    return [sys.executable, "-m", "fusionmat", "batch", str(src), "-r", "--out", str(out), "--engine", engine,
            "--json", str(report), "--no-progress"]


def run(cmd: list[str], stop: tuple[int, int] | None = None, out: Path | None = None) -> tuple[int, float]:
    """(exit status, wall s) of a batch; ``stop`` = (signal, outputs to wait for) sends it mid-run."""
    start = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if stop is not None:
        sig, after = stop
        while process.poll() is None and len(list(out.rglob("*_matting.png"))) < after:
            time.sleep(0.05)
        process.send_signal(sig)
    return process.wait(), time.perf_counter() - start


def judge(src: Path, out: Path, report: Path, good: set[str], bad: set[str]) -> dict:
    data = json.loads(report.read_text())
    done = {str(Path(p).relative_to(src)) for p in data["done"] + data["skipped"]}
    named = {str(Path(f["file"]).relative_to(src)) for f in data["failed"]}
    return {"good done": len(done & good) / len(good), "bad named": len(named & bad) / len(bad),
            "wrongly failed": sorted(named - bad), "partial": partial_files(out)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


@click.command()
@click.option("--count", default=200, show_default=True)
@click.option("--engine", default="modnet", show_default=True)
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build the folders here and keep them (default: a temporary folder).")
def main(count, engine, keep):
    base = keep or Path(tempfile.mkdtemp(prefix="fusionmat-faults-"))
    src = base / "photos"
    src.mkdir(parents=True, exist_ok=True)
    good, bad = build(src, count)
    before = digest(src)
    click.echo(f"{count} files: {len(good)} good photos, {len(bad)} bad, a FIFO, a broken link, "
               f"a matte written by predict; engine {engine}")
    rows = []

    def closing(name: str, out: Path, status: int, seconds: float) -> None:
        report = out.parent / f"{out.name}.json"
        resumed, _ = run(command(src, out, engine, report))
        verdict = judge(src, out, report, good, bad)
        rows.append((name, status, resumed, verdict, len(temp_files(out))))
        click.echo(f"{name:22s} exit {status:>3} ({seconds:5.1f} s), re-run exit {resumed}: "
                   f"good {verdict['good done']:.0%}, bad named {verdict['bad named']:.0%}, "
                   f"partial {len(verdict['partial'])}, temp left {len(temp_files(out))}"
                   + (f", wrongly failed {verdict['wrongly failed']}" if verdict["wrongly failed"] else ""))

    out = base / "plain"
    status, seconds = run(command(src, out, engine, base / "plain.json"))
    closing("whole run", out, status, seconds)
    for name, sig in (("SIGINT mid-run", signal.SIGINT), ("SIGTERM mid-run", signal.SIGTERM),
                      ("SIGKILL mid-run", signal.SIGKILL)):
        out = base / name.split()[0].lower()
        status, seconds = run(command(src, out, engine, base / f"{out.name}-first.json"), (sig, len(good) // 3), out)
        closing(name, out, status, seconds)
    full_disk(base, src, engine, good, bad, rows)
    changed = [k for k, v in digest(src).items() if before.get(k) != v]
    click.echo(f"\nTOTAL: good done {min(r[3]['good done'] for r in rows):.0%}, "
               f"bad named {min(r[3]['bad named'] for r in rows):.0%}, "
               f"partial files {sum(len(r[3]['partial']) for r in rows)}, inputs changed {len(changed)}, "
               f"temp files left {sum(r[4] for r in rows)}, peak RSS {peak_rss_mb():.0f} MB")
    if keep is None:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def full_disk(base: Path, src: Path, engine: str, good: set[str], bad: set[str], rows: list) -> None:
    """A 2 MB tmpfs as --out: failures named, no partial file; then the run resumes on a real disk."""
    small = base / "small_disk"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)],
                             capture_output=True).returncode == 0
    if not mounted:
        click.echo("full disk: skipped (cannot mount a tmpfs here; needs root)")
        return
    try:
        report = base / "disk.json"
        status, seconds = run(command(src, small, engine, report))
        data = json.loads(report.read_text())
        no_space = sum("No space left" in f["error"] for f in data["failed"])
        partial = partial_files(small)
        temps = temp_files(small)
        click.echo(f"{'full disk (2 MB)':22s} exit {status:>3} ({seconds:5.1f} s): {len(data['done'])} done, "
                   f"{no_space} named 'No space left on device', partial {len(partial)}, temp left {len(temps)}")
        rows.append(("full disk", status, None, {"good done": 1.0, "bad named": 1.0, "wrongly failed": [],
                                                 "partial": partial}, len(temps)))
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


if __name__ == "__main__":
    main()
