"""A real ``fusionmat serve`` on 127.0.0.1 for the tests that need sockets and timing."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(*args: str, port: int | None = None):
    """(process, base URL) of ``fusionmat serve ARGS`` once /healthz answers 200; stopped after."""
    port = port or free_port()
    process = subprocess.Popen([sys.executable, "-m", "fusionmat", "serve", "--port", str(port), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"fusionmat serve exited: {process.stderr.read()}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("fusionmat serve did not answer /healthz within 90 s") from None
                time.sleep(0.3)
        yield process, url
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
