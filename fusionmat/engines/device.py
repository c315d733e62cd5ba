"""Where the ONNX networks run (modnet, rvm, fusion): onnxruntime's execution providers.

``auto`` (the default) takes CUDA when this onnxruntime has the CUDA provider (the ``[gpu]``
extra installs onnxruntime-gpu) and a session starts on it, else the CPU; ``cpu`` never asks for
CUDA; ``cuda`` must get it or says why not. Set by ``--device`` or ``$FUSIONMAT_DEVICE``. The
detectors and the selfie engine (LiteRT) and latefusion (TensorFlow) run on the CPU.
"""
from __future__ import annotations

import os

from fusionmat.errors import FusionmatError

DEVICES = ("auto", "cpu", "cuda")
ENV_DEVICE = "FUSIONMAT_DEVICE"
CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
GPU_HINT = ("pip install 'fusionmat[gpu]' (onnxruntime-gpu) on a machine with an NVIDIA GPU, its driver and "
            "CUDA 12")


def chosen(device: str | None = None) -> str:
    """``device``, else ``$FUSIONMAT_DEVICE``, else 'auto'; FusionmatError for anything else."""
    value = (device or os.environ.get(ENV_DEVICE) or "auto").strip().lower()
    if value not in DEVICES:
        raise FusionmatError(f"device must be one of {', '.join(DEVICES)}, got {value!r} (from "
                             f"{'--device' if device else '$' + ENV_DEVICE})")
    return value


def providers(device: str | None = None) -> list[str]:
    """The providers to ask onnxruntime for, in order of preference."""
    import onnxruntime as ort

    device = chosen(device)
    if device == "cpu":
        return [CPU]
    if CUDA in ort.get_available_providers():
        return [CUDA, CPU]
    if device == "cuda":
        raise FusionmatError(f"--device cuda: this onnxruntime has no CUDA provider; {GPU_HINT}")
    return [CPU]


def check_started(session, device: str | None = None) -> str:
    """The provider ``session`` runs on; FusionmatError when CUDA was asked for explicitly and
    onnxruntime fell back to the CPU (a driver or CUDA library missing)."""
    running = session.get_providers()[0]
    if chosen(device) == "cuda" and running != CUDA:
        raise FusionmatError(f"--device cuda: onnxruntime could not start CUDA (it fell back to {running}); "
                             f"check the NVIDIA driver and CUDA 12 libraries")
    return running
