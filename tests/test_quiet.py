"""Silencing native libraries' stderr from several threads at once leaves descriptor 2 as it was."""
from __future__ import annotations

import os
import threading

from fusionmat.quiet import native_stderr_silenced


def test_threads_silencing_at_once_put_stderr_back():
    before = os.fstat(2)
    inside, leave = threading.Barrier(2), threading.Event()
    seen = []

    def silence(wait: float) -> None:
        with native_stderr_silenced():
            inside.wait(10)
            seen.append(os.path.samestat(os.fstat(2), os.stat(os.devnull)))
            leave.wait(wait)

    first, second = threading.Thread(target=silence, args=(0,)), threading.Thread(target=silence, args=(10,))
    first.start(), second.start()
    first.join(10)  # one leaves while the other is still inside: still silenced
    assert os.path.samestat(os.fstat(2), os.stat(os.devnull))
    leave.set()
    second.join(10)
    after = os.fstat(2)
    assert seen == [True, True] and (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
