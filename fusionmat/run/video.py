"""Portrait matting for video files (PyAV: FFmpeg's libraries ship in its wheel).

For each frame: the preprocessing decided once per shot (a new shot begins at a cut, see
:mod:`fusionmat.run.temporal`), the engine, the temporal filter, then the outputs:

- ``<stem>_matting.mp4``: the matte as grey video (H.264), same frame rate and frame count;
- ``<stem>_composite.mp4`` with a background (audio copied from the input);
- with ``alpha='webm'``: ``<stem>_cutout.webm``, VP9 with an alpha channel (yuva420p); with
  ``alpha='png'``: ``<stem>_cutout/000001.png ...``, an RGBA PNG sequence.

Outputs are staged in the output folder (:mod:`fusionmat.io.staging`) and renamed when complete:
Ctrl-C or a crash leaves no partial file at a final name, and an existing ``<stem>_cutout/`` is
replaced only when it is an earlier PNG-sequence output. Frames keep their source timestamps (a
variable frame rate stays variable); frames over the pixel budget (:mod:`fusionmat.limits`) are
refused from the stream's header, before decoding. A damaged video keeps the frames decoded up
to the damage, and the report says so.
"""
from __future__ import annotations

import dataclasses
import os
import re
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from fusionmat.errors import FusionmatError, ImageReadError, MissingDependencyError, OutputError

ALPHA_FORMATS = ("webm", "png", "gif", "webp", "mov")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
"""A ``--bg`` file with one of these suffixes is a background video (looped, or cut to length)."""
FRAME_NAME = re.compile(r"\d{6}\.png")
"""A frame of a PNG-sequence output: ``000001.png``."""


FRAME_MARK = "video frame"
"""The stamp each frame of a PNG sequence carries in its text chunk: only such files are fusionmat's."""


def is_frame(name: str) -> bool:
    """True for a name a PNG-sequence output holds (``000001.png``)."""
    return FRAME_NAME.fullmatch(name) is not None


def frames_of_ours(folder: Path):
    """Says whether an entry of ``folder`` (a relative name) is a frame fusionmat wrote there: a
    frame's name and fusionmat's stamp, so a user's ``000001.png`` is never replaced."""
    from fusionmat.outputs.resume import read_stamp

    return lambda name: is_frame(name) and read_stamp(folder / name) == FRAME_MARK


@dataclass
class VideoReport:
    """What a video run did."""

    source: str
    frames: int = 0
    total: int | None = None
    shots: int = 0
    fps: float = 0.0
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    damaged: str | None = None
    frames_without_person: int = 0


def _av():
    try:
        import av
    except ModuleNotFoundError:
        raise MissingDependencyError("video needs PyAV: pip install 'fusionmat[video]'") from None
    return av


def _rotation(frame) -> int:
    """The frame's display rotation in degrees (counter-clockwise), from its display matrix."""
    rotation = getattr(frame, "rotation", 0) or 0
    return int(round(rotation / 90.0)) * 90 % 360


def _upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    return np.ascontiguousarray(np.rot90(rgb, rotation // 90)) if rotation else rgb


def _even(array: np.ndarray) -> np.ndarray:
    """Pad to even height and width (4:2:0 video needs them), repeating the last row/column."""
    h, w = array.shape[:2]
    if h % 2 == 0 and w % 2 == 0:
        return array
    pad = [(0, h % 2), (0, w % 2)] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad, mode="edge")


class _Writer:
    """One encoded output video (frames from arrays)."""

    def __init__(self, av, path: Path, codec: str, rate: Fraction, time_base: Fraction, width: int, height: int,
                 pix_fmt: str, options: dict | None = None, audio_from=None, muxer: dict | None = None) -> None:
        self.container = av.open(str(path), mode="w", options=muxer or {})
        self.closed = False
        self.stream = self.container.add_stream(codec, rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pix_fmt
        self.stream.codec_context.time_base = self.time_base = time_base  # frames keep the source's pts
        self.stream.options = options or {}
        self.audio_in = audio_from
        self.audio_out = self.container.add_stream_from_template(audio_from) if audio_from is not None else None
        self.av = av

    def write(self, array: np.ndarray, fmt: str, pts: int) -> None:
        """Encode one frame shown at ``pts`` (in ``time_base`` units)."""
        frame = self.av.VideoFrame.from_ndarray(_even(array), format=fmt)
        frame.pts, frame.time_base = pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self, source: str | None = None, begin: Fraction | None = None, end: float | None = None) -> None:
        """Flush the encoder, copy the audio of [begin, end) seconds from ``source``, close the file."""
        for packet in self.stream.encode():
            self.container.mux(packet)
        if self.audio_out is not None and source is not None:
            self._copy_audio(source, begin, end)
        self.closed = True
        self.container.close()

    def _copy_audio(self, source: str, begin: Fraction | None, end: float | None) -> None:
        """The audio packets of [begin, end) seconds, moved earlier by ``begin`` as the video was."""
        with self.av.open(source) as original:
            stream = original.streams.audio[0]
            shift = round(begin / stream.time_base) if begin else 0
            for packet in original.demux(stream):
                if packet.dts is None:
                    continue
                t = packet.pts * stream.time_base if packet.pts is not None else 0
                if (begin is not None and t < begin) or (end is not None and t >= end):
                    continue
                packet.dts -= shift
                if packet.pts is not None:
                    packet.pts -= shift
                packet.stream = self.audio_out
                self.container.mux(packet)

    def abort(self) -> None:
        """Close a half-written file on the way out (its temp is removed by the staging)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a half-written file on the way out
            pass


class _GifWriter:
    """An animated GIF of RGBA frames (a transparent colour for alpha under half): frames are
    kept, quantised to 255 colours, until :meth:`close` writes them with Pillow, each shown for
    its own time (a GIF holds about 1 MB a 720p frame in memory until then: webp or mov for long clips)."""

    def __init__(self, path: Path, time_base: Fraction) -> None:
        self.path, self.time_base = path, time_base
        self.frames: list = []
        self.stamps: list[int] = []
        self.closed = False

    def write(self, array: np.ndarray, fmt: str, pts: int) -> None:
        from PIL import Image

        colours = Image.fromarray(np.ascontiguousarray(array[..., :3])).quantize(255, method=Image.Quantize.MEDIANCUT)
        index = np.asarray(colours).copy()
        index[array[..., 3] < 128] = 255  # the transparent colour
        frame = Image.fromarray(index, mode="P")
        frame.putpalette(colours.getpalette()[:255 * 3] + [0, 0, 0])
        self.frames.append(frame)
        self.stamps.append(pts)

    def close(self, source=None, begin=None, end=None) -> None:
        if not self.frames:
            return
        step = [float((b - a) * self.time_base) for a, b in zip(self.stamps, self.stamps[1:])]
        durations = [max(20, round(1000 * d)) for d in step] + [max(20, round(1000 * (step[-1] if step else 0.1)))]
        self.frames[0].save(self.path, format="GIF", save_all=True, append_images=self.frames[1:], loop=0,
                            duration=durations, transparency=255, disposal=2, optimize=False)
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class _BackgroundVideo:
    """The frames of a background video, one per call, looped when it is shorter than the clip."""

    def __init__(self, av, path: Path) -> None:
        self.av, self.path = av, path
        self.container, self.stream = probe(path)
        self.frames = self.container.decode(self.stream)
        self.count = 0

    def next(self) -> np.ndarray:
        for _ in range(2):
            try:
                frame = next(self.frames)
            except StopIteration:
                if self.count == 0:
                    break
                self.container.close()  # from the start again
                self.container, self.stream = probe(self.path)
                self.frames = self.container.decode(self.stream)
                continue
            self.count += 1
            return _upright(frame.to_ndarray(format="rgb24"), _rotation(frame))
        raise ImageReadError(f"{self.path}: a background video without frames")

    def close(self) -> None:
        self.container.close()


def probe(path: str | os.PathLike):
    """(container, video stream) of ``path``; ImageReadError in one line when it is not a video."""
    from fusionmat.io.read import refuse_special

    av = _av()
    refuse_special(path)  # a FIFO would block the open forever
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a video FFmpeg can read ({exc})") from None
    if not container.streams.video:
        container.close()
        raise ImageReadError(f"{path}: has no video stream")
    if container.format.name == "image2" or container.format.name.endswith("_pipe"):
        container.close()
        raise ImageReadError(f"{path}: is a still image, not a video (use fusionmat predict)")
    return container, container.streams.video[0]


def matte_video(source: str | os.PathLike, out_dir: str | os.PathLike | None = None, *, engine=None,
                background: str | None = None, fit: str = "cover", alpha: str | None = None,
                start: float | None = None, end: float | None = None, rotate="auto", crop="none",
                temporal: bool | None = None, matte_output: bool = True, mask=None,
                on_frame: Callable[[int, int | None], None] | None = None) -> VideoReport:
    """Matte every frame of a video file and write the outputs (see the module docstring).

    Parameters
    ----------
    source : a video file.
    out_dir : output folder (default: next to the video).
    engine : a loaded engine or a name (default: the default engine).
    background, fit : the composite's background, as ``--bg`` (a colour, a picture, blur[:S]);
        ``transparent`` needs ``alpha``.
    alpha : 'webm' (VP9 with alpha) or 'png' (RGBA PNG sequence) for a transparent cut-out.
    start, end : seconds; only frames in [start, end) are matted.
    rotate, crop : the preprocessing, decided once per shot (crop 'none' by default: a subject that
        moves leaves a box fitted to the shot's first frame).
    mask : mask controls for every frame (:class:`fusionmat.matting.mask.MaskSettings`, after the
        temporal filter; no ``trim``: a video keeps one frame size).
    temporal : apply the temporal filter (:class:`fusionmat.run.temporal.TemporalFilter`); None: for
        engines without a recurrent state (a recurrent one, rvm, is steady on its own).
    on_frame : called with (frames done, total frames or None) after each frame.
    """
    from fusionmat.outputs.compose import parse_background
    from fusionmat.outputs.plan import LoadedBackground

    if mask is not None and mask.trim is not None:
        raise ValueError("trim is for photos: a video keeps one frame size")
    if alpha is not None and alpha not in ALPHA_FORMATS:
        raise ValueError(f"alpha must be one of {', '.join(ALPHA_FORMATS)}, got {alpha!r}")
    if start is not None and end is not None and end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    spec = parse_background(background) if background else None
    if spec is not None and spec.translucent and alpha is None:
        raise ValueError("a transparent background needs --alpha (webm, mov, webp, gif or png; MP4 has no alpha)")
    picture = None
    moving = spec is not None and spec.path is not None and spec.path.suffix.lower() in VIDEO_SUFFIXES
    if spec is not None and spec.path is not None and not moving:
        from fusionmat.io.read import read_image

        picture = read_image(spec.path)
    loaded_bg = LoadedBackground(spec, picture, fit) if spec is not None and not spec.translucent else None

    source = Path(source)
    folder = Path(out_dir) if out_dir is not None else source.parent
    av = _av()
    began = time.perf_counter()
    container, stream = probe(source)
    with ExitStack() as stack:  # staged outputs: committed when the block ends normally, else removed
        stack.callback(container.close)
        if moving:
            scenery = _BackgroundVideo(av, spec.path)
            stack.callback(scenery.close)
            loaded_bg = dataclasses.replace(loaded_bg, moving=scenery)
        report = _matte_frames(av, source, folder, container, stream, stack, engine=engine, loaded_bg=loaded_bg,
                               alpha=alpha, start=start, end=end, rotate=rotate, crop=crop, temporal=temporal,
                               matte_output=matte_output, on_frame=on_frame, mask=mask)
    report.seconds = time.perf_counter() - began
    report.fps = report.frames / report.seconds if report.seconds > 0 else 0.0
    return report


def _matte_frames(av, source: Path, folder: Path, container, stream, stack: ExitStack, *, engine, loaded_bg, alpha,
                  start, end, rotate, crop, temporal, matte_output, on_frame, mask=None) -> VideoReport:
    """The frame loop of :func:`matte_video`; outputs are staged on ``stack`` (committed when it closes)."""
    from concurrent.futures import ThreadPoolExecutor

    from fusionmat.engines import DEFAULT_ENGINE, load_engine
    from fusionmat.io.staging import check_replaceable, staged
    from fusionmat.io.write import clean_stale_temps
    from fusionmat.limits import check_pixels
    from fusionmat.matting.mask import masked
    from fusionmat.matting.pipeline import refine_method
    from fusionmat.preprocess.chain import Preprocessor, build_preprocessor
    from fusionmat.run.process import Job, Session, process
    from fusionmat.run.temporal import Delayed, TemporalFilter, grey_thumbnail, is_cut

    check_pixels(stream.codec_context.width, stream.codec_context.height, str(source))  # before any decoding
    cutout_folder = folder / f"{source.stem}_cutout"
    if alpha == "png":
        check_replaceable(cutout_folder, frames_of_ours(cutout_folder))  # refused now, before the clip is matted
    loaded = load_engine(engine or DEFAULT_ENGINE) if engine is None or isinstance(engine, str) else engine
    if temporal is None:
        temporal = not loaded.recurrent
    stack.enter_context(loaded.stream())  # a recurrent engine carries its state from frame to frame
    chooser = build_preprocessor(rotate, crop, "none", tilt=loaded.tilt)
    report = VideoReport(str(source), total=stream.frames or None)
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    time_base = stream.time_base or 1 / Fraction(rate)
    step = max(1, round(1 / (rate * time_base)))  # one frame at the nominal rate, for frames without a pts
    audio = container.streams.audio[0] if container.streams.audio else None
    temps: dict[str, Path] = {}  # kind -> staged temp (a folder for the PNG sequence)
    finals: dict[str, Path] = {}
    writers: dict[str, _Writer] = {}
    smooth = TemporalFilter() if temporal else None
    delayed = Delayed() if temporal else None
    stamps: deque[int] = deque()  # output pts of the frames pushed and not yet emitted, in order
    written = [0]
    session = Session(loaded, refine_method(loaded))  # the preprocessing is decided again at each cut
    previous_thumb = None
    first_pts = last_pts = None
    if folder.is_dir():
        clean_stale_temps(folder)  # what a killed earlier run left

    def output(kind: str, name: str, *, is_folder: bool = False) -> Path:
        finals[kind] = folder / name
        owned = frames_of_ours(finals[kind]) if is_folder else None
        temps[kind] = stack.enter_context(staged(finals[kind], folder=is_folder, owned=owned))
        return temps[kind]

    def open_writer(kind: str, name: str, codec: str, w: int, h: int, pix_fmt: str, options: dict,
                    audio_from=None, muxer: dict | None = None) -> None:
        writers[kind] = _Writer(av, output(kind, name), codec, rate, time_base, w, h, pix_fmt, options, audio_from,
                                muxer)
        stack.callback(writers[kind].abort)  # before the temp is removed, on an exception

    def open_outputs(height: int, width: int) -> None:
        h, w = height + height % 2, width + width % 2
        stem = source.stem
        if matte_output:
            open_writer("matting", f"{stem}_matting.mp4", "libx264", w, h, "yuv420p",
                        {"crf": "18", "preset": "veryfast"})
        if loaded_bg is not None:
            open_writer("composite", f"{stem}_composite.mp4", "libx264", w, h, "yuv420p",
                        {"crf": "18", "preset": "veryfast"}, audio_from=audio)
        if alpha == "webm":
            open_writer("cutout", f"{stem}_cutout.webm", "libvpx-vp9", w, h, "yuva420p",
                        {"crf": "30", "b": "0", "deadline": "realtime", "cpu-used": "8"})
        elif alpha == "mov":  # ProRes 4444 with alpha, as editors import it; the sound copied
            open_writer("cutout", f"{stem}_cutout.mov", "prores_ks", w, h, "yuva444p10le", {"profile": "4444"},
                        audio_from=audio)
        elif alpha == "webp":  # animated WebP with alpha, looping
            open_writer("cutout", f"{stem}_cutout.webp", "libwebp_anim", w, h, "yuva420p", {}, muxer={"loop": "0"})
        elif alpha == "gif":
            writers["cutout"] = _GifWriter(output("cutout", f"{stem}_cutout.gif"), time_base)
        elif alpha == "png":
            output("cutout", cutout_folder.name, is_folder=True)

    encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fusionmat-encode")
    pending: list = []

    def write(rgb, matte, index, pts) -> None:
        try:
            _write_frame(rgb, matte, writers, temps, loaded_bg, index, pts)
        except (OSError, av.error.FFmpegError) as exc:
            raise OutputError(f"{folder}: could not write the outputs of {source.name}: {exc}") from None

    def emit(held) -> None:
        """Filter one frame (the delayed one when the temporal filter is on) and hand it to the
        encoding thread, which works while the next frame is matted (in order, one at a time)."""
        if held is None:
            return
        rgb, matte = held
        if smooth is not None:
            matte = smooth(rgb, matte)
        if mask is not None:
            matte = masked(rgb, matte, mask)[1]
        while pending and (pending[0].done() or len(pending) >= 2):
            pending.pop(0).result()  # re-raises a write error here
        pending.append(encoder.submit(write, rgb, matte, written[0], stamps.popleft()))
        written[0] += 1

    try:
        decoded = container.decode(stream)
        while True:
            try:
                frame = next(decoded)
            except StopIteration:
                break
            except (av.error.FFmpegError, ValueError) as exc:
                report.damaged = f"decoding stopped after frame {report.frames}: {exc}"
                break
            t = float(frame.time) if frame.time is not None else report.frames / float(rate)
            if start is not None and t < start:
                continue
            if end is not None and t >= end:
                break
            check_pixels(frame.width, frame.height, str(source))  # the size may change mid-stream: before converting
            pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
            if last_pts is not None and pts <= last_pts:
                pts = last_pts + 1  # an encoder needs rising timestamps
            if first_pts is None:
                first_pts = pts if start is not None else 0  # a clip cut with start begins at 0
            last_pts = pts
            rgb = _upright(frame.to_ndarray(format="rgb24"), _rotation(frame))
            if not temps:
                open_outputs(*rgb.shape[:2])
            thumb = grey_thumbnail(rgb)
            if is_cut(previous_thumb, thumb):
                report.shots += 1
                session = Session(loaded, session.refine,
                                  Preprocessor(chooser.decide(rgb)) if chooser is not None else None)
                if delayed is not None:
                    emit(delayed.flush())  # the last frame of the shot before: no neighbour across a cut
                if smooth is not None:
                    smooth.reset()
                loaded.cut()
            previous_thumb = thumb
            outcome = process(Job(f"{source} frame {report.frames + 1}", pixels=rgb, keep=("alpha",)), session)
            if outcome.error:
                raise FusionmatError(outcome.error)
            matte = outcome.alpha
            if not outcome.found:
                report.frames_without_person += 1
            stamps.append(pts - first_pts)
            emit(delayed.push(rgb, matte) if delayed is not None else (rgb, matte))
            report.frames += 1
            if on_frame is not None:
                on_frame(report.frames, report.total)
        if delayed is not None:
            emit(delayed.flush())
        while pending:
            pending.pop(0).result()
    finally:
        encoder.shutdown(wait=True, cancel_futures=True)
    if report.frames == 0:
        span = (f" from {start:g} s" if start is not None else "") + (f" up to {end:g} s" if end is not None else "")
        raise ImageReadError(f"{source}: no frames to matte{span}")
    try:
        begin = first_pts * time_base if start is not None else None
        for writer in writers.values():
            writer.close(str(source), begin, end)
    except (OSError, av.error.FFmpegError) as exc:
        raise OutputError(f"{folder}: could not write the outputs of {source.name}: {exc}") from None
    report.outputs = {kind: str(path) for kind, path in finals.items()}  # committed when ``stack`` closes
    return report


def _write_frame(rgb, matte, writers, temps, background, index: int, pts: int) -> None:
    from fusionmat.io.write import save_image, to_uint8
    from fusionmat.matting.foreground import estimate_layers
    from fusionmat.outputs.compose import composite
    from fusionmat.outputs.plan import background_for
    from fusionmat.outputs.resume import STAMP_KEY

    alpha8 = to_uint8(matte)
    if "matting" in writers:
        writers["matting"].write(alpha8, "gray", pts)
    if "composite" in writers or "cutout" in temps:
        fg, bg = estimate_layers(rgb, matte)
        if "composite" in writers:
            if background.moving is not None:  # a background video: its next frame
                background = dataclasses.replace(background, picture=background.moving.next())
            writers["composite"].write(to_uint8(composite(fg, matte, background_for(rgb, matte, bg, background))),
                                       "rgb24", pts)
        if "cutout" in writers:
            writers["cutout"].write(np.dstack([to_uint8(fg), alpha8]), "rgba", pts)
        elif "cutout" in temps:
            save_image(temps["cutout"] / f"{index + 1:06d}.png", np.dstack([to_uint8(fg), alpha8]),
                       text={STAMP_KEY: FRAME_MARK})
