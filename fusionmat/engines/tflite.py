"""A small wrapper that runs one .tflite model through LiteRT (no TensorFlow import)."""
from __future__ import annotations

import os

import numpy as np

from fusionmat.quiet import native_stderr_silenced


class TFLiteModel:
    """One LiteRT interpreter with a single float32 NHWC image input.

    Parameters
    ----------
    path : path of a verified .tflite file.
    threads : CPU threads for XNNPACK (default: every core).
    """

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = str(path)
        self._interpreter = Interpreter(model_path=self.path, num_threads=threads or os.cpu_count() or 1)
        with native_stderr_silenced():
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the model expects."""
        _, h, w, _ = self._input["shape"]
        return int(h), int(w)

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run on a 1xHxWx3 float32 batch; returns every output by name (copies)."""
        self._interpreter.set_tensor(self._input["index"], np.ascontiguousarray(batch, dtype=np.float32))
        self._interpreter.invoke()
        return {name: self._interpreter.get_tensor(index).copy() for name, index in self._outputs.items()}
