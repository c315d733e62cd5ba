"""Late Fusion engine: the paper's network in tf_keras with the released weights.

The weights file is found, in order: ``weights=`` (``-E weights=FILE``), ``$FUSIONMAT_HOME/latefusion.h5``,
``./weights/latefusion.h5``. The network is built once per engine and reused for every image.
Inference size: the aspect ratio is kept, the long side is ``long_side`` (default 800, the
size the original authors chose for most of their test photos), both sides rounded to
multiples of 32; ``size=(h, w)`` forces it.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from fusionmat.engines.base import Engine, Option, int_in, parse_bool
from fusionmat.engines.latefusion_net.model import STRIDE, build_latefusion, preprocess
from fusionmat.engines.weights import find_latefusion_weights
from fusionmat.io.read import to_float
from fusionmat.matting.resize import resize_to, stride_size
from fusionmat.quiet import tensorflow

LONG_SIDE = 800
FUSION_PREFIX = "fusion_"


class PartialWeightsWarning(UserWarning):
    """Some layers kept their initial values because the weights file lacked them."""


def inference_size(height: int, width: int, long_side: int = LONG_SIDE) -> tuple[int, int]:
    """(h, w) with the aspect ratio of height x width, long side ``long_side``, multiples of 32."""
    return stride_size(height, width, long_side, STRIDE)


def parse_size(text: str) -> tuple[int, int]:
    """WIDTHxHEIGHT, as every size fusionmat takes: '608x800' -> (height, width) = (800, 608);
    both multiples of 32."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must be WIDTHxHEIGHT, e.g. 608x800, got {text!r}") from None
    if h <= 0 or w <= 0 or h % STRIDE or w % STRIDE:
        raise ValueError(f"size must be positive multiples of {STRIDE}, got {text!r}")
    return h, w


class LateFusionEngine(Engine):
    """The Late Fusion CNN with a released (or compatible) Keras-2 HDF5 weights file.

    Parameters
    ----------
    weights : path of the .h5 file (default: looked for, see :func:`fusionmat.engines.weights.latefusion_candidates`).
    size : (h, w) inference size, multiples of 32 (default: aspect kept, long side ``long_side``).
    long_side : long side of the default inference size.
    partial : allow a file without the fusion layers (classifier stage); they stay untrained.
    threads : CPU threads for TensorFlow.
    """

    name = "latefusion"
    options = (
        Option("weights", str, "the released .h5 (default: $FUSIONMAT_HOME/latefusion.h5, then ./weights/)"),
        Option("size", parse_size, "WIDTHxHEIGHT inference size, multiples of 32 (default: 800 px long side)"),
        Option("long_side", int_in(256, 2048, STRIDE), "long side of the inference size in px (multiple of 32)"),
        Option("partial", parse_bool, "true: accept a file without the fusion layers (they stay untrained)"),
    )
    extra = "latefusion"
    modules = ("tensorflow", "tf_keras", "h5py")
    refine = "none"
    upsample = "bilinear"  # as the released project resizes its matte

    def __init__(self, *, weights: str | os.PathLike | None = None, size: tuple[int, int] | None = None,
                 long_side: int = LONG_SIDE, partial: bool = False, threads: int | None = None) -> None:
        from fusionmat.engines.latefusion_net.h5weights import load_h5_weights

        tf = tensorflow()

        path = find_latefusion_weights(weights)
        if threads:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        self.weights_path = path
        self.size = size
        self.long_side = long_side
        self.model = build_latefusion()
        self.load_report = load_h5_weights(self.model, path, allow_missing=(FUSION_PREFIX,) if partial else ())
        if self.load_report.skipped_missing:
            warnings.warn(
                f"{path}: {len(self.load_report.skipped_missing)} fusion layer(s) not in the file were left "
                "untrained (-E partial=true); the matte is not the paper's", PartialWeightsWarning, stacklevel=2)
        self._forward = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run the network on a mean-subtracted NxHxWx3 batch: alpha, fg, bg, beta (NxHxW)."""
        outputs = self._forward(np.ascontiguousarray(batch, dtype=np.float32))
        return {name: out.numpy()[..., 0] for name, out in zip(("alpha", "fg", "bg", "beta"), outputs)}

    @classmethod
    def missing(cls) -> list[str]:
        """Besides the extra's modules, the released .h5, which users download themselves."""
        from fusionmat.engines.weights import latefusion_candidates

        problems = super().missing()
        if not any(p.is_file() for p in latefusion_candidates()):
            problems.append("the released latefusion.h5 not found (give it with -E weights=FILE; "
                            "`fusionmat weights list` says where it is looked for)")
        return problems

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return self.size or inference_size(height, width, self.long_side)

    def settings(self) -> dict:
        from fusionmat.outputs.resume import file_identity

        return {"engine": self.name, "weights": file_identity(self.weights_path), "size": self.size,
                "long_side": self.long_side, "partial": bool(self.load_report.skipped_missing)}

    def predict(self, image: np.ndarray) -> np.ndarray:
        resized = resize_to(image, *self.input_size(*image.shape[:2]))
        alpha = self.forward(preprocess(np.clip(to_float(resized), 0.0, 1.0))[None])["alpha"][0]
        return np.clip(alpha, 0.0, 1.0)
