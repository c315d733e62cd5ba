"""`fusionmat video` on small clips written here with PyAV (a moving astronaut, with a sine-wave
audio track); the temporal filter itself is tested in test_temporal.py."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.errors import ImageReadError
from tests.conftest import import_or_skip, requires_weights

av = import_or_skip("av")


def write_clip(path, astronaut, frames=8, size=(192, 144), audio=True, rate=10, times=None, options=None,
               keyframes=None):
    """A clip of the astronaut drifting right, with a 440 Hz tone when ``audio``; ``times`` (seconds,
    one per frame) makes the frame rate variable; ``options`` go to the muxer; a key frame every
    ``keyframes`` frames."""
    picture = Image.fromarray(astronaut).resize((120, 120))
    frames = len(times) if times is not None else frames
    with av.open(str(path), mode="w", options=options or {}) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"g": str(keyframes)} if keyframes else {}
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        sound = container.add_stream("aac", rate=16000) if audio else None
        for i in range(frames):
            canvas = Image.new("RGB", size, (40, 90, 160))
            canvas.paste(picture, (10 + 4 * i, 20))
            frame = av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        if sound is not None:
            samples = int(16000 * (times[-1] + 1 / rate if times is not None else frames / rate))
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, 0, Fraction(1, 16000)
            for packet in sound.encode(frame):
                container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def frames_of(path, decoder: str | None = None) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if decoder is None:
            return [f.to_ndarray(format="rgba") for f in container.decode(stream)]
        context = av.CodecContext.create(decoder, "r")
        return [f.to_ndarray(format="rgba") for p in container.demux(stream) for f in context.decode(p)]


@pytest.fixture
def clip(tmp_path, astronaut):
    return write_clip(tmp_path / "walk.mp4", astronaut)


@requires_weights
def test_matte_video_keeps_frame_count_rate_and_size(clip, tmp_path):
    from fusionmat.run.video import matte_video

    report = matte_video(clip, tmp_path / "out", engine="selfie")
    assert report.frames == 8 and report.shots == 1 and report.damaged is None
    path = tmp_path / "out" / "walk_matting.mp4"
    assert report.outputs == {"matting": str(path)}
    mattes = frames_of(path)
    assert len(mattes) == 8 and mattes[0].shape[:2] == (144, 192)
    with av.open(str(path)) as container:
        assert container.streams.video[0].average_rate == 10
    face = mattes[0][40:80, 40:90, 0]
    assert face.mean() > 150 and mattes[0][:, -10:, 0].mean() < 40  # the astronaut, not the backdrop


@requires_weights
def test_composite_with_audio_and_alpha_outputs(clip, tmp_path):
    from fusionmat.run.video import matte_video

    report = matte_video(clip, tmp_path, engine="selfie", background="#00ff00", alpha="webm")
    composite = frames_of(tmp_path / "walk_composite.mp4")
    assert len(composite) == 8 and composite[0][5, -5, 1] > 200 and composite[0][5, -5, 0] < 60  # green backdrop
    with av.open(report.outputs["composite"]) as container:
        assert len(container.streams.audio) == 1  # the sound came along
    cutout = frames_of(tmp_path / "walk_cutout.webm", decoder="libvpx-vp9")
    assert len(cutout) == 8 and cutout[0][5, -5, 3] < 30 and cutout[0][60, 60, 3] > 200
    pngs = matte_video(clip, tmp_path / "png", engine="selfie", alpha="png", matte_output=False)
    frames = sorted((tmp_path / "png" / "walk_cutout").iterdir())
    assert pngs.outputs == {"cutout": str(tmp_path / "png" / "walk_cutout")} and len(frames) == 8
    assert Image.open(frames[0]).mode == "RGBA"


@requires_weights
def test_start_and_end_cut_the_clip(clip, tmp_path):
    from fusionmat.run.video import matte_video

    report = matte_video(clip, tmp_path, engine="selfie", start=0.2, end=0.5, background="white")
    assert report.frames == 3 and len(frames_of(tmp_path / "walk_matting.mp4")) == 3
    with av.open(report.outputs["composite"]) as container:  # picture and sound both begin at 0
        shown = [float(f.time) for f in container.decode(container.streams.video[0])]
    with av.open(report.outputs["composite"]) as container:
        sound = container.streams.audio[0]
        heard = [float(p.pts * sound.time_base) for p in container.demux(sound) if p.pts is not None]
    assert shown == pytest.approx([0.0, 0.1, 0.2], abs=0.002)
    assert min(heard) == pytest.approx(0.0, abs=0.07) and max(heard) < 0.3


def test_not_a_video_is_one_clear_error(tmp_path):
    from fusionmat.run.video import matte_video

    (tmp_path / "notes.mp4").write_text("hello")
    with pytest.raises(ImageReadError, match="not a video"):
        matte_video(tmp_path / "notes.mp4", engine="selfie")
    with pytest.raises(ImageReadError, match="no such file"):
        matte_video(tmp_path / "missing.mp4", engine="selfie")


@requires_weights
def test_a_damaged_video_keeps_the_frames_before_the_damage(tmp_path, astronaut):
    """A fragmented MP4 (an index per fragment, so a cut file still opens) cut in the middle."""
    from fusionmat.run.video import matte_video

    whole = write_clip(tmp_path / "whole.mp4", astronaut, frames=20, audio=False, keyframes=5,
                       options={"movflags": "frag_keyframe+empty_moov"})  # four fragments
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 6 // 10])  # inside the second fragment
    report = matte_video(tmp_path / "cut.mp4", tmp_path / "out", engine="selfie", temporal=False)
    assert report.damaged is not None and "decoding stopped" in report.damaged
    readable = 0  # what FFmpeg decodes of the cut file before it fails
    with av.open(str(tmp_path / "cut.mp4")) as container:
        with pytest.raises(av.error.FFmpegError):
            for _ in container.decode(container.streams.video[0]):
                readable += 1
    assert 5 <= report.frames == readable < 20
    mattes = frames_of(report.outputs["matting"])
    assert len(mattes) == report.frames
    first, last = (np.nonzero(m[:, :, 0].mean(axis=0) > 128)[0][0] for m in (mattes[0], mattes[-1]))
    assert last - first >= 4 * (report.frames - 1) - 8  # the clip's own frames, in order: the subject drifts right


@requires_weights
def test_ctrl_c_leaves_no_partial_output(clip, tmp_path, monkeypatch):
    import fusionmat.matting.pipeline
    from fusionmat.run.video import matte_video

    real, calls = fusionmat.matting.pipeline.run_engine, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fusionmat.matting.pipeline, "run_engine", interrupted)
    with pytest.raises(KeyboardInterrupt):
        matte_video(clip, tmp_path / "out", engine="selfie", background="white", alpha="png")
    assert list((tmp_path / "out").iterdir()) == []


@requires_weights
def test_cli(clip, tmp_path):
    from fusionmat.cli import main

    result = CliRunner().invoke(main, ["video", str(clip), "-o", str(tmp_path / "o"), "--engine", "selfie",
                                       "--bg", "blur"])
    assert result.exit_code == 0, result.output
    assert "walk_composite.mp4" in result.stdout and "8 frame(s), 1 shot(s)" in result.stderr
    bad = tmp_path / "x.mp4"
    bad.write_text("no")
    result = CliRunner().invoke(main, ["video", str(bad), "--engine", "selfie"])
    assert result.exit_code == 1 and "not a video" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["video", str(clip), "--bg", "transparent", "--engine", "selfie"])
    assert result.exit_code == 2 and "needs --alpha" in result.output


def test_a_still_image_is_not_taken_for_a_video(tmp_path, astronaut):
    from fusionmat.run.video import matte_video

    Image.fromarray(astronaut).save(tmp_path / "a.jpg")
    with pytest.raises(ImageReadError, match="still image"):
        matte_video(tmp_path / "a.jpg", engine="selfie")


def test_png_output_never_deletes_a_folder_it_did_not_make(tmp_path, astronaut):
    """`video d/clip_cutout/clip.mp4 -o d --alpha png` removed clip_cutout/ with the clip in it."""
    from fusionmat.cli import main
    from fusionmat.errors import OutputError
    from fusionmat.run.video import matte_video

    folder = tmp_path / "clip_cutout"
    folder.mkdir()
    clip = write_clip(folder / "clip.mp4", astronaut, frames=3, audio=False)
    (folder / "000001.png").write_bytes(b"not fusionmat's")
    (folder / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(OutputError, match=r"clip_cutout: exists and is not an earlier output .*refusing"):
        matte_video(clip, tmp_path, engine="selfie", alpha="png")
    result = CliRunner().invoke(main, ["video", str(clip), "-o", str(tmp_path), "--alpha", "png",
                                       "--engine", "selfie"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and str(folder) in result.output
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip_cutout"]  # no temp, no output left


@requires_weights
def test_a_folder_of_a_users_own_numbered_pngs_is_not_taken_for_an_earlier_output(tmp_path, astronaut):
    """A user's 000001.png and 000050.png were overwritten and deleted: names alone decided."""
    from fusionmat.errors import OutputError
    from fusionmat.run.video import matte_video

    clip = write_clip(tmp_path / "clip.mp4", astronaut, frames=3, audio=False)
    folder = tmp_path / "out" / "clip_cutout"
    folder.mkdir(parents=True)
    Image.fromarray(astronaut).save(folder / "000001.png")
    Image.fromarray(astronaut).save(folder / "000050.png")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(OutputError, match="is not an earlier output"):
        matte_video(clip, tmp_path / "out", engine="selfie", alpha="png")
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@requires_weights
def test_an_earlier_png_output_is_replaced_and_modes_follow_the_umask(clip, tmp_path):
    """Outputs were 0600 and the PNG folder 0700; a killed run's temp folder was never removed."""
    import subprocess
    import sys

    from fusionmat.io.write import current_umask
    from fusionmat.run.video import matte_video

    out = tmp_path / "out"
    matte_video(clip, out, engine="selfie", alpha="png")
    assert len(list((out / "walk_cutout").iterdir())) == 8
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = out / f".walk_cutout.fusionmat-{dead.stdout.strip()}-x1y2z3w4.part"  # what a SIGKILLed run left
    stale.mkdir()
    (stale / "000001.png").write_bytes(b"half")
    report = matte_video(clip, out, engine="selfie", alpha="png", end=0.3)
    assert sorted(p.name for p in out.iterdir()) == ["walk_cutout", "walk_matting.mp4"]
    frames = sorted(p.name for p in (out / "walk_cutout").iterdir())
    assert report.frames == 3 and frames == ["000001.png", "000002.png", "000003.png"]
    files = 0o666 & ~current_umask()
    assert os.stat(out / "walk_matting.mp4").st_mode & 0o777 == files
    assert os.stat(out / "walk_cutout").st_mode & 0o777 == 0o777 & ~current_umask()
    assert all(os.stat(out / "walk_cutout" / name).st_mode & 0o777 == files for name in frames)


@requires_weights
def test_a_variable_frame_rate_keeps_its_timing(tmp_path, astronaut):
    """A variable-frame-rate clip came out at a constant rate: shorter than its sound."""
    from fusionmat.run.video import matte_video

    times = [0.0, 0.1, 0.2, 0.7, 0.8, 1.5, 1.6, 2.4]
    clip = write_clip(tmp_path / "vfr.mp4", astronaut, times=times)
    report = matte_video(clip, tmp_path / "out", engine="selfie", background="white")
    for kind in ("matting", "composite"):
        with av.open(report.outputs[kind]) as container:
            shown = [float(f.time) for f in container.decode(container.streams.video[0])]
        assert shown == pytest.approx(times, abs=0.002)
    with av.open(report.outputs["composite"]) as container:
        sound = container.streams.audio[0]
        assert float(sound.duration * sound.time_base) == pytest.approx(2.5, abs=0.1)


def test_frames_over_the_pixel_budget_are_refused_before_decoding(clip, tmp_path, monkeypatch):
    """A 28 KB clip of 144 MP frames peaked at 2.9 GB: frames have Pillow's pixel limit, as photos do."""
    from PIL import Image

    from fusionmat.engines.base import Engine
    from fusionmat.run.video import matte_video

    class NeverCalled(Engine):
        name, refine = "never", "none"

        def predict(self, image):
            raise AssertionError("a frame over the limit reached the engine")

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 192 * 144 - 1)
    with pytest.raises(ImageReadError, match=r"walk\.mp4: too many pixels \(192x144 = 27648, over the limit of 27647"):
        matte_video(clip, tmp_path / "out", engine=NeverCalled(), temporal=False)
    assert not (tmp_path / "out").exists()


def test_a_recurrent_engine_streams_the_clip_and_forgets_at_each_cut(tmp_path, astronaut):
    """One stream for the clip, a cut per new shot, no temporal filter by default (rvm's way)."""
    from fusionmat.engines.base import Engine
    from fusionmat.run.video import matte_video

    events = []

    class Recurrent(Engine):
        name, refine, recurrent, tilt = "recurrent", "none", True, False

        def stream(self):
            from contextlib import contextmanager

            @contextmanager
            def streaming():
                events.append("open")
                yield self
                events.append("close")

            return streaming()

        def cut(self):
            events.append("cut")

        def predict(self, image):
            events.append("frame")
            return np.ones(image.shape[:2], np.float32)

    first = write_clip(tmp_path / "a.mp4", astronaut, frames=3, audio=False)
    report = matte_video(first, tmp_path / "out", engine=Recurrent(), rotate="none")
    assert events[0] == "open" and events[-1] == "close" and events.count("frame") == 3
    assert events.count("cut") == report.shots == 1  # the first frame opens the one shot


@requires_weights
def test_mask_controls_reach_every_frame(clip, tmp_path):
    from fusionmat.matting.mask import MaskSettings
    from fusionmat.run.video import matte_video

    report = matte_video(clip, tmp_path / "out", engine="selfie", mask=MaskSettings(threshold=0.5))
    grey = np.concatenate([f[..., 0].ravel() for f in frames_of(report.outputs["matting"])])
    assert ((grey > 24) & (grey < 231)).mean() < 0.03  # a hard mask (H.264 blurs only its edges)
    with pytest.raises(ValueError, match="trim is for photos"):
        matte_video(clip, tmp_path / "out2", engine="selfie", mask=MaskSettings(trim=0))


@requires_weights
@pytest.mark.parametrize("kind", ["mov", "webp", "gif"])
def test_cut_outs_with_alpha_decode_back_with_every_frame(clip, tmp_path, kind):
    from PIL import ImageSequence

    from fusionmat.run.video import matte_video

    report = matte_video(clip, tmp_path / "out", engine="selfie", alpha=kind, temporal=False)
    path = Path(report.outputs["cutout"])
    assert path.name == f"walk_cutout.{kind}"
    if kind == "mov":
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "prores" and "yuva" in stream.codec_context.pix_fmt
            frames = [f.to_ndarray(format="rgba") for f in container.decode(stream)]
            assert container.streams.audio  # the sound comes with it
    else:  # FFmpeg does not read animated WebP: Pillow does, and GIF too
        frames = [np.asarray(f.convert("RGBA")) for f in ImageSequence.Iterator(Image.open(path))]
        assert Image.open(path).info.get("loop") == 0  # both loop for ever
    assert len(frames) == 8 and frames[0].shape[:2] == (144, 192)
    alpha = np.stack([f[..., 3] for f in frames])
    assert alpha.min() == 0 and alpha.max() == 255  # transparent around the subject, opaque on it


@requires_weights
def test_a_background_video_is_looped_under_a_longer_clip(clip, tmp_path, astronaut):
    from fusionmat.run.video import matte_video

    scenery = tmp_path / "scenery.mp4"
    with av.open(str(scenery), mode="w") as container:  # 3 frames: red, green, blue
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255)):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), colour, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    report = matte_video(clip, tmp_path / "out", engine="selfie", background=str(scenery), temporal=False)
    corners = [f[2, 2, :3].astype(int) for f in frames_of(report.outputs["composite"])]
    assert len(corners) == 8
    dominant = [int(np.argmax(c)) for c in corners]
    assert dominant == [0, 1, 2, 0, 1, 2, 0, 1]  # the background's frames in turn, from the start again
