"""Silencing what native libraries print on file descriptor 2 (LiteRT, Ray's C++ core)."""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration: LiteRT prints an INFO line from C++
    ("Created TensorFlow Lite XNNPACK delegate") when it allocates an interpreter's tensors, and
    Ray's core one about its log level when it starts."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no descriptor 2 to redirect: nothing to silence
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
