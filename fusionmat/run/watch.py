"""A hot folder (``batch SRC --watch``): after the first pass, photos that land in or change in
the folder are matted once they are complete, until Ctrl-C, SIGTERM or ``stop`` is set.

The folder is watched with ``watchfiles`` (inotify and its kin, not a polling loop). A file is
taken when its size and modification time have not changed for ``settle`` seconds: a camera,
a tethering program or a copy writing it in pieces is not read half-written. Each batch of
complete files goes through :func:`fusionmat.run.batch.run_folder`, so everything a batch does
holds here: found by content, outputs mirrored and never among the inputs, resume (a file that
comes back unchanged is skipped), one line per failure and the run goes on.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fusionmat.errors import MissingDependencyError

SETTLE = 2.0
"""Seconds a file's size and time must stay the same before it is taken."""
TICK_MS = 250
"""How often, in milliseconds, files still being written are looked at again."""


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def watch_folder(src: Path, out_root: Path, spec, session, batch, *, report, settle: float = SETTLE,
                 stop: threading.Event | None = None, on_outcome: Callable | None = None,
                 on_ready: Callable[[], None] | None = None) -> None:
    """Matte what lands in ``src`` (and its sub-folders with ``batch.recursive``) until
    KeyboardInterrupt or ``stop``; outcomes go into ``report`` as a batch's do. ``on_ready`` is
    called once the folder is watched."""
    try:
        from watchfiles import Change, watch
    except ModuleNotFoundError:
        raise MissingDependencyError("batch --watch needs watchfiles: pip install 'fusionmat[watch]'") from None
    from fusionmat.io.folder import find_images
    from fusionmat.run.batch import run_folder

    src, out_root = Path(src), Path(out_root)
    pending: dict[Path, tuple[tuple[int, int] | None, float]] = {}  # path -> (signature, since when)
    stop = stop or threading.Event()
    began = report.start
    changes = watch(src, recursive=batch.recursive, stop_event=stop, yield_on_timeout=True, rust_timeout=TICK_MS,
                    debounce=TICK_MS, step=50, raise_interrupt=True)
    if on_ready is not None:
        on_ready()
    for found in changes:
        now = time.monotonic()
        for change, name in found:
            path = Path(name)
            if change == Change.deleted:
                pending.pop(path, None)
            elif not _inside(path, out_root):
                pending[path] = (_signature(path), now)
        ready = []
        for path, (signature, since) in list(pending.items()):
            current = _signature(path)
            if current is None:
                del pending[path]  # gone again (a temp file renamed away)
            elif current != signature:
                pending[path] = (current, now)  # still being written
            elif now - since >= settle:
                ready.append(path)
                del pending[path]
        if not ready:
            continue
        images, _ = find_images(src, recursive=batch.recursive, exclude=out_root)
        wanted = {os.path.abspath(path) for path in ready}
        chosen = [image for image in images if os.path.abspath(image) in wanted]
        if chosen:
            run_folder(chosen, src, out_root, spec, session, batch, report=report, on_outcome=on_outcome)
            done = set(report.done)  # read half-written once, done since: not a failure any more
            report.failed = [failure for failure in report.failed if failure["file"] not in done]
            report.start = began if began is not None else report.start
            if report.interrupted:
                return


def _inside(path: Path, folder: Path) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(path), os.path.abspath(folder)]) == os.path.abspath(folder)
    except ValueError:
        return False
