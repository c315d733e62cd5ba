"""Silencing what native libraries print on file descriptor 2 (LiteRT, Ray's C++ core, TensorFlow)."""
from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_silencing = threading.Lock()
_silenced = {"depth": 0, "saved": None}
"""Threads that silence descriptor 2 at once share one redirection: the first saves and
redirects it, the last puts it back (each saving and restoring on its own, two threads could
leave it on /dev/null for good: a server with two workers lost its whole stderr that way)."""


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration: LiteRT prints an INFO line from C++
    ("Created TensorFlow Lite XNNPACK delegate") when it allocates an interpreter's tensors, and
    Ray's core one about its log level when it starts. Safe from several threads at once."""
    with _silencing:
        if _silenced["depth"] == 0:
            sys.stderr.flush()
            try:
                saved = os.dup(2)
                devnull = os.open(os.devnull, os.O_WRONLY)
            except OSError:  # no descriptor 2 to redirect: nothing to silence
                saved = None
            else:
                os.dup2(devnull, 2)
                os.close(devnull)
            _silenced["saved"] = saved
        _silenced["depth"] += 1
    try:
        yield
    finally:
        with _silencing:
            _silenced["depth"] -= 1
            if _silenced["depth"] == 0 and _silenced["saved"] is not None:
                os.dup2(_silenced["saved"], 2)
                os.close(_silenced["saved"])
                _silenced["saved"] = None


@contextmanager
def native_stderr_filtered(drop: Callable[[str], bool]) -> Iterator[None]:
    """Pass file descriptor 2 through a pipe for the duration: each line for which ``drop(line)``
    is true is dropped, every other line (a real error) goes on to the original stderr."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
        read_end, write_end = os.pipe()
    except OSError:  # no descriptor 2 to redirect: nothing to filter
        yield
        return

    def forward() -> None:
        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            _write_all(saved, b"".join(line + b"\n" for line in lines
                                       if not drop(line.decode("utf-8", "replace"))))
        if pending and not drop(pending.decode("utf-8", "replace")):
            _write_all(saved, pending)

    reader = threading.Thread(target=forward, name="fusionmat-stderr-filter", daemon=True)
    reader.start()
    try:
        os.dup2(write_end, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(write_end)  # the reader sees the end of the pipe once fd 2 no longer shares it
        reader.join()
        os.close(read_end)
        os.close(saved)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


TF_START_UP = re.compile(r"All log messages before absl::InitializeLog\(\) is called|cpu_feature_guard\.cc|"
                         r"^To enable the following instructions: .* rebuild TensorFlow|"
                         r"oneDNN custom operations are on")
"""What TensorFlow prints as it loads, before its own log level applies (absl's logger is not set up yet)."""
CUDA_PROBE = re.compile(r"cudart_stub\.cc|cuda_platform\.cc:\d+\] failed call to cuInit|cuda_diagnostics\.cc|"
                        r"Unable to register cu(?:DNN|FFT|BLAS) factory")
"""TensorFlow looking for CUDA: dropped only on a machine without an NVIDIA driver, where it cannot succeed."""

_lock = threading.Lock()
_tensorflow = None


def has_nvidia_driver() -> bool:
    """True where an NVIDIA kernel driver is loaded (Linux), so a failed CUDA start is a real error."""
    return os.path.exists("/proc/driver/nvidia/version")


def tensorflow():
    """The ``tensorflow`` module, imported once without its start-up lines on stderr.

    The one place fusionmat imports TensorFlow (the Late Fusion engine, ``export``): the C++ log
    level is set to errors (``TF_CPP_MIN_LOG_LEVEL=2``); absl's notes, the CPU-feature and oneDNN
    notes printed before that level applies, and on a machine without an NVIDIA driver the CUDA
    probe (``failed call to cuInit``) are filtered out of stderr while TensorFlow loads and looks
    for devices; anything else it prints, errors included, still shows. Python-side TensorFlow and
    absl loggers are set to errors. ``TF_CPP_MIN_LOG_LEVEL=0`` or ``1`` set by the user asks for
    TensorFlow's own output: then nothing is filtered or changed.
    """
    global _tensorflow
    with _lock:
        if _tensorflow is None:
            _tensorflow = _import_tensorflow()
    return _tensorflow


def tf_keras():
    """The ``tf_keras`` module, with TensorFlow imported first through :func:`tensorflow`."""
    tensorflow()
    import tf_keras as module

    return module


def _import_tensorflow():
    # read by TensorFlow's C++ as it loads: set before the import (inherited by workers, which then filter too)
    if os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1"):
        import tensorflow as tf

        return tf
    probe = None if has_nvidia_driver() else CUDA_PROBE

    def noise(line: str) -> bool:
        return bool(TF_START_UP.search(line) or (probe is not None and probe.search(line)))

    with native_stderr_filtered(noise):
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the CUDA probe happens here, not at the first layer
    import logging

    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    tf.get_logger().setLevel(logging.ERROR)
    return tf


def coremltools():
    """The ``coremltools`` module, with TensorFlow imported first through :func:`tensorflow`, and
    without the warnings it logs as it loads: one per native library it lacks ("Failed to load
    _MLModelProxy": off macOS there are none, and none is needed to convert) and one because
    TensorFlow is newer than it was tested with (``export``'s tests check the contract). Its
    warnings while converting, and its errors, still show."""
    import logging

    tensorflow()
    logger = logging.getLogger("coremltools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import coremltools as module
    finally:
        logger.setLevel(level)
    return module
