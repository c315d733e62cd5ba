"""Video: the temporal filter and dtSSD on made-up sequences, and `fusionmat video` on small clips
written here with PyAV (a moving astronaut, with a sine-wave audio track)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from fusionmat.errors import ImageReadError
from fusionmat.run.temporal import TemporalFilter, dtssd, grey_thumbnail, is_cut
from tests.conftest import import_or_skip, requires_weights


def test_the_filter_removes_flicker_where_the_picture_is_still():
    rng = np.random.default_rng(0)
    frame = np.full((40, 40, 3), 128, np.uint8)
    truth = np.zeros((40, 40), np.float32)
    truth[10:30, 10:30] = 1.0
    raw = [np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1).astype(np.float32) for _ in range(30)]
    smooth = TemporalFilter()
    out = [smooth(frame, m) for m in raw]
    assert np.std(np.array(out[5:]), axis=0).mean() < 0.5 * np.std(np.array(raw[5:]), axis=0).mean()
    assert dtssd(out, [truth] * 30) < 0.6 * dtssd(raw, [truth] * 30)


def test_the_filter_follows_a_moving_edge_at_once():
    smooth = TemporalFilter()
    still = np.zeros((40, 40, 3), np.uint8)
    matte = np.zeros((40, 40), np.float32)
    smooth(still, matte)
    moved = still.copy()
    moved[:, 20:] = 255  # the picture changed on the right half: the subject moved in
    new_matte = np.zeros((40, 40), np.float32)
    new_matte[:, 20:] = 1.0
    out = smooth(moved, new_matte)
    assert out[:, 25:].min() > 0.95  # no ghost of the old matte where the picture moved
    smooth.reset()
    assert np.array_equal(smooth(still, matte), matte)  # after a cut: the frame's own matte


def test_filter_settings_are_checked():
    with pytest.raises(ValueError):
        TemporalFilter(strength=1.0)
    with pytest.raises(ValueError):
        TemporalFilter(motion_scale=0)


def test_dtssd_and_cuts():
    a = [np.zeros((4, 4), np.float32), np.ones((4, 4), np.float32)]
    assert dtssd(a, a) == 0.0
    assert dtssd([a[0], a[0]], a) == pytest.approx(100.0)  # missed a change of 1 everywhere
    dark, light = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    assert is_cut(None, grey_thumbnail(dark)) and is_cut(grey_thumbnail(dark), grey_thumbnail(light))
    assert not is_cut(grey_thumbnail(dark), grey_thumbnail(dark))


av = import_or_skip("av")


def write_clip(path, astronaut, frames=8, size=(192, 144), audio=True, rate=10):
    """A clip of the astronaut drifting right, with a 440 Hz tone when ``audio``."""
    picture = Image.fromarray(astronaut).resize((120, 120))
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        sound = container.add_stream("aac", rate=16000) if audio else None
        for i in range(frames):
            canvas = Image.new("RGB", size, (40, 90, 160))
            canvas.paste(picture, (10 + 4 * i, 20))
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(canvas), format="rgb24")):
                container.mux(packet)
        if sound is not None:
            samples = int(16000 * frames / rate)
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

    report = matte_video(clip, tmp_path, engine="selfie", start=0.2, end=0.5)
    assert report.frames == 3 and len(frames_of(tmp_path / "walk_matting.mp4")) == 3


def test_not_a_video_is_one_clear_error(tmp_path):
    from fusionmat.run.video import matte_video

    (tmp_path / "notes.mp4").write_text("hello")
    with pytest.raises(ImageReadError, match="not a video"):
        matte_video(tmp_path / "notes.mp4", engine="selfie")
    with pytest.raises(ImageReadError, match="no such file"):
        matte_video(tmp_path / "missing.mp4", engine="selfie")


@requires_weights
def test_a_damaged_video_keeps_the_frames_before_the_damage(tmp_path, astronaut):
    from fusionmat.run.video import matte_video

    whole = write_clip(tmp_path / "whole.mp4", astronaut, frames=20, audio=False)
    data = whole.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: int(len(data) * 0.7)])
    try:
        report = matte_video(tmp_path / "cut.mp4", tmp_path / "out", engine="selfie")
    except ImageReadError as exc:  # the index (moov) was cut off: FFmpeg cannot open it at all
        assert "not a video" in str(exc)
        return
    assert 0 < report.frames < 20
    assert len(frames_of(report.outputs["matting"])) == report.frames


@requires_weights
def test_ctrl_c_leaves_no_partial_output(clip, tmp_path, monkeypatch):
    import fusionmat.matting.pipeline
    from fusionmat.run.video import matte_video

    real, calls = fusionmat.matting.pipeline.matte_image, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fusionmat.matting.pipeline, "matte_image", interrupted)
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
