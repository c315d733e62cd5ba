"""Video benchmark with exact ground truth, built from ../shared/bench (no downloads).

Usage:
    python benchmarks/video.py ../shared/bench/plain [--clips 2] [--frames 120] [--long-side 576]
                               [--engine rvm] [-E video_side=640] [--size 1920x1080]

Each clip puts one benchmark subject (its true foreground and alpha) over another entry's
background at 1280x720 and moves it: translation across the frame, a 0.9 -> 1.1 zoom, a
+-3 degree sway and a camera shake of a few pixels on the background; the true alpha of every
frame is the subject's alpha moved the same way. Prints, per clip and overall: mean SAD and MSE
per frame, dtSSD (temporal coherence, Erofeev et al. 2015; x100) frame by frame and with the
temporal filter, a small sweep of the filter's settings, and the end-to-end speed of
`fusionmat.run.video.matte_video` on the clip written as H.264 (decode, matte, filter, encode).
"""
from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import click
import numpy as np


def load(bench: Path, entry: dict, key: str) -> np.ndarray:
    from fusionmat.io.read import read_image, read_matte

    return read_matte(bench / entry[key]) if key == "alpha" else read_image(bench / entry[key])


def make_clip(bench: Path, subject: dict, scenery: dict, frames: int, seed: int, size: tuple[int, int] = (1280, 720)):
    """(frames as uint8 RGB, true alphas as float32) of one synthetic clip of ``size`` (width, height)."""
    import cv2

    rng = np.random.default_rng(seed)
    fg, alpha, bg = load(bench, subject, "fg"), load(bench, subject, "alpha"), load(bench, scenery, "bg")
    width, height = size
    margin = 16
    scale = max((width + 2 * margin) / bg.shape[1], (height + 2 * margin) / bg.shape[0])
    bg = cv2.resize(bg, (math.ceil(bg.shape[1] * scale), math.ceil(bg.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    shake = np.cumsum(rng.normal(0, 1.5, (frames, 2)), axis=0).clip(-margin + 1, margin - 1)
    images, truths = [], []
    base = 0.8 * height / fg.shape[0]
    for t in range(frames):
        progress = t / max(1, frames - 1)
        zoom = base * (0.9 + 0.2 * progress)
        angle = 3.0 * math.sin(2 * math.pi * progress)
        cx = width * (0.35 + 0.3 * progress)
        cy = height * 0.55
        matrix = cv2.getRotationMatrix2D((fg.shape[1] / 2, fg.shape[0] / 2), angle, zoom)
        matrix[0, 2] += cx - fg.shape[1] / 2
        matrix[1, 2] += cy - fg.shape[0] / 2
        f = cv2.warpAffine(fg, matrix, (width, height), flags=cv2.INTER_LINEAR)
        a = cv2.warpAffine(alpha, matrix, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        dy, dx = (margin + shake[t]).astype(int)
        b = bg[dy:dy + height, dx:dx + width]
        images.append((np.clip(a * f + (1 - a) * b, 0, 1) * 255 + 0.5).astype(np.uint8))
        truths.append(a[..., 0].astype(np.float32))
    return images, truths


def scores(mattes, truths) -> dict:
    from fusionmat.evaluate.metrics import mse, sad
    from fusionmat.run.temporal import dtssd

    return {"sad": float(np.mean([sad(m, g) for m, g in zip(mattes, truths)])),
            "mse": float(np.mean([mse(m, g) for m, g in zip(mattes, truths)])),
            "dtssd": dtssd(mattes, truths)}


def filtered(images, raw, strength: float, motion_scale: float, delay: bool = True) -> list[np.ndarray]:
    """The mattes through the video pipeline's filters: one-frame delay, then smoothing."""
    from fusionmat.run.temporal import Delayed, TemporalFilter

    pairs = [(image, matte.astype(np.float32)) for image, matte in zip(images, raw)]
    if delay and strength > 0:
        delayed, cleaned = Delayed(), []
        for image, matte in pairs:
            out = delayed.push(image, matte)
            if out is not None:
                cleaned.append(out)
        cleaned.append(delayed.flush())
        pairs = cleaned
    if strength == 0:
        return [matte for _, matte in pairs]
    smooth = TemporalFilter(strength, motion_scale)
    return [smooth(image, matte) for image, matte in pairs]


def write_mp4(images, path: Path, rate: int = 30) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = images[0].shape[1], images[0].shape[0], "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@click.command()
@click.argument("bench", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--clips", default=2, show_default=True)
@click.option("--frames", default=120, show_default=True)
@click.option("--long-side", type=int, default=None, help="modnet's inference long side (default: the engine's).")
@click.option("--engine", default="modnet", show_default=True)
@click.option("-E", "--engine-opt", "engine_opts", multiple=True, metavar="KEY=VALUE", help="An engine option.")
@click.option("--size", default="1280x720", show_default=True, metavar="WxH", help="The clips' frame size.")
def main(bench, clips, frames, long_side, engine, engine_opts, size):
    import fusionmat
    from fusionmat.matting.pipeline import matte_image
    from fusionmat.preprocess.chain import Preprocessor, build_preprocessor
    from fusionmat.run.temporal import MOTION_SCALE, STRENGTH
    from fusionmat.run.video import matte_video

    entries = json.loads((bench / "index.json").read_text())
    options = {"long_side": long_side} if long_side else {}
    options.update(opt.split("=", 1) for opt in engine_opts)
    loaded = fusionmat.load_engine(engine, **options)
    chooser = build_preprocessor("auto", "none", "none", tilt=loaded.tilt)
    default = (0.0, MOTION_SCALE) if loaded.recurrent else (STRENGTH, MOTION_SCALE)  # what matte_video does
    sweep = [(0.0, MOTION_SCALE), (0.7, 0.03), (0.7, 0.06), (STRENGTH, MOTION_SCALE), (0.8, 0.06), (0.8, 0.1)]
    totals: dict = {setting: [] for setting in sweep}
    speeds = []
    for clip in range(clips):
        subject, scenery = entries[(3 * clip) % len(entries)], entries[(3 * clip + 7) % len(entries)]
        width, height = (int(v) for v in size.lower().split("x"))
        images, truths = make_clip(bench, subject, scenery, frames, seed=clip, size=(width, height))
        fixed = Preprocessor(chooser.decide(images[0]))
        start = time.perf_counter()
        with loaded.stream():  # a recurrent engine carries its state over the clip, as in matte_video
            raw = [matte_image(image, loaded, preprocessor=fixed).astype(np.float16) for image in images]
        engine_fps = frames / (time.perf_counter() - start)
        click.echo(f"clip {clip}: {subject['foreground']} over {scenery['background']}, {frames} frames {size} "
                   f"(engine alone {engine_fps:.2f} fps)")
        for setting in sweep:
            row = scores(filtered(images, raw, *setting), truths)
            totals[setting].append(row)
            label = "frame by frame" if setting[0] == 0.0 else f"delay + strength {setting[0]}, motion {setting[1]}"
            marker = " (default)" if setting == default else ""
            click.echo(f"  {label:36s} SAD {row['sad']:7.3f}  MSE {row['mse']:.5f}  dtSSD {row['dtssd']:6.3f}{marker}")
        with tempfile.TemporaryDirectory() as tmp:
            clip_path = Path(tmp) / f"clip{clip}.mp4"
            write_mp4(images, clip_path)
            report = matte_video(clip_path, tmp, engine=loaded)
            speeds.append(report.fps)
            click.echo(f"  end to end (decode, matte, filter, encode the matte video): {report.fps:.2f} fps")
    click.echo("\nMEAN over clips:")
    for setting, rows in totals.items():
        label = "frame by frame" if setting[0] == 0.0 else f"delay + strength {setting[0]}, motion {setting[1]}"
        means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        click.echo(f"  {label:36s} SAD {means['sad']:7.3f}  MSE {means['mse']:.5f}  dtSSD {means['dtssd']:6.3f}")
    click.echo(f"  end to end: {np.mean(speeds):.2f} fps (engine {engine}, {loaded.settings()})")


if __name__ == "__main__":
    main()
