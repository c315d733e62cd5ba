"""`fusionmat serve` as a process on 127.0.0.1, where sockets and timing matter: a busy port,
slow headers and idle bodies, clients that leave, SIGTERM mid-request, the access log."""
from __future__ import annotations

import io
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from PIL import Image

from tests.conftest import import_or_skip, requires_weights
from tests.serving import free_port, running_server

import_or_skip("uvicorn")


@pytest.fixture(scope="module")
def photo(astronaut) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(astronaut).save(buffer, format="JPEG")
    return buffer.getvalue()


def post(url: str, photo: bytes, timeout: float = 120) -> tuple[int, bytes]:
    request = urllib.request.Request(url + "api/matte?output=matte", data=photo,
                                     headers={"Content-Type": "image/jpeg"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def health(url: str) -> dict:
    import json

    with urllib.request.urlopen(url + "healthz", timeout=10) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "access.log"
    with running_server("--engine", "selfie", "--body-timeout", "1", "--max-queue", "2",
                        "--access-log", str(log)) as (process, url):
        yield url, log


def test_a_busy_port_is_one_line_and_exit_1_before_anything_loads():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "fusionmat", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: cannot listen on 127.0.0.1:{port}: address already in use"


@requires_weights
def test_idle_bodies_and_slow_headers_are_cut_off_and_others_are_served(server, photo):
    url, _ = server
    port = int(url.rsplit(":", 1)[1].strip("/"))
    idle = []
    for _ in range(3):  # more than --max-queue 2: a place in the queue is only taken with a whole body
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /api/matte HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                     b"Content-Length: 1000000\r\n\r\nab")
        idle.append(sock)
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    time.sleep(0.2)
    assert health(url)["memory_mb"]["used"] == 0  # a body holds what it has sent, not what it declares
    assert post(url, photo)[0] == 200  # while they are held
    for sock in idle:
        sock.settimeout(10)
        answer = sock.recv(200)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer.lower()
        sock.close()
    slow.settimeout(10)
    slow.sendall(b"X-Slow: 1")  # still dribbling after the 1 s deadline
    answer = slow.makefile("rb").read()  # until the server closes it
    assert answer.startswith(b"HTTP/1.1 408 ") and answer.endswith(b'{"error": "the request headers took over 1 s"}')
    slow.close()


@requires_weights
def test_a_client_that_leaves_is_dropped_and_logged_499(server, photo):
    url, log = server
    big = io.BytesIO()
    Image.open(io.BytesIO(photo)).resize((1600, 1600)).save(big, format="JPEG")
    def leave():
        with pytest.raises(TimeoutError):
            post(url, big.getvalue(), timeout=0.3)

    threads = [threading.Thread(target=leave) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 30
    while health(url)["busy"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health(url)["busy"] == 0
    assert post(url, photo)[0] == 200
    lines = log.read_text().splitlines()
    common = re.compile(r'^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
                        r'"(GET|POST) /\S* HTTP/1\.1" \d{3} (\d+|-)$')
    assert lines and all(common.match(line) for line in lines), lines
    assert sum(' 499 ' in line for line in lines) == 2


def sigterm_mid_request(process, url: str, photo: bytes) -> tuple[int, bytes]:
    """Send ``photo`` (a matte request), SIGTERM the server once it is busy with it, and return
    the answer (status, body) after the server has exited."""
    answer: dict = {}
    client = threading.Thread(target=lambda: answer.update(result=post(url, photo)))
    client.start()
    deadline = time.monotonic() + 30
    while not health(url)["busy"] and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    client.join(120)
    process.wait(60)
    return answer["result"]


def resized(photo: bytes, side: int) -> bytes:
    big = io.BytesIO()
    Image.open(io.BytesIO(photo)).resize((side, side)).save(big, format="JPEG")
    return big.getvalue()


@requires_weights
def test_sigterm_finishes_the_request_in_progress_then_exits_130(photo):
    with running_server("--engine", "selfie", "--grace", "60") as (process, url):
        status, body = sigterm_mid_request(process, url, resized(photo, 2400))
        assert status == 200 and Image.open(io.BytesIO(body)).size == (2400, 2400)
        assert process.returncode == 130 and "stopped" in process.stderr.read()
        with pytest.raises(OSError):
            health(url)  # nothing listens any more


def test_a_port_is_bound_before_the_engines_load(tmp_path):
    """A missing model is said after the port is taken, so the port's own error comes first."""
    port = free_port()
    env = {"FUSIONMAT_HOME": str(tmp_path)}  # no model files here
    import os

    done = subprocess.run([sys.executable, "-m", "fusionmat", "serve", "--port", str(port)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, **env})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "fusionmat weights fetch" in done.stderr


@requires_weights
def test_past_the_grace_period_a_request_is_stopped_at_its_next_step_and_answered_503(photo):
    with running_server("--engine", "selfie", "--grace", "0.5") as (process, url):
        status, body = sigterm_mid_request(process, url, resized(photo, 3000))
        errors = process.stderr.read()
    assert status == 503 and b"the server is stopping" in body
    assert process.returncode == 130 and "Traceback" not in errors and "CancelledError" not in errors


def test_requests_h11_refuses_are_json_too(server):
    url, _ = server
    port = int(url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nNo colon here\r\n\r\n")  # malformed
        sock.settimeout(10)
        answer = sock.makefile("rb").read()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"x-content-type-options: nosniff" in head
    assert body.startswith(b'{"error": "bad request')


def test_an_access_log_that_is_a_fifo_is_refused_before_anything_loads(tmp_path):
    import os

    fifo = tmp_path / "log"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "fusionmat", "serve", "--port", str(free_port()),
                           "--access-log", str(fifo)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "is a FIFO, not a regular file" in done.stderr
