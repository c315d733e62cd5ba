"""Fault benchmark of `fusionmat serve`: normal requests while the server is attacked, on 127.0.0.1.

Usage:
    python benchmarks/serve_faults.py [--normal 12] [--engine modnet] [--workers N] [--max-queue 16]
                                      [--max-memory-mb 2048] [--body-timeout 5] [--attacks a,b,...]
                                      [--json FILE] [--server-log FILE] [--source CHECKOUT]

Starts a real ``fusionmat serve`` (free port, 127.0.0.1 only) and waits for ``GET /healthz``
(180 s at most). One cut-out request (its time printed, not counted), then the calm phase:
``--normal`` cut-out requests one after another (multipart field ``image``: a 512x512 JPEG of
scikit-image's astronaut, each request's photo made unique so that no cached matte answers it,
output=cutout). Then, for each attack, the attack runs in background threads
while the same number of normal requests is sent one after another:

- ``idle-bodies``: ``--max-queue`` raw sockets send the headers of ``POST /api/matte`` with
  ``Content-Length: 1000000``, then 2 body bytes, then nothing, held open until the normal
  requests are done and at least 2 x ``--body-timeout`` + 3 s (expected: closed by the server
  after ``--body-timeout``; the table says how many were, and after how long);
- ``slow-headers``: 32 raw sockets send ``GET /healthz`` and then one header byte a second,
  never finishing the headers, held as long (expected: closed after the header timeout);
- ``abandoned``: 20 threads each send a whole 1024 px cut-out request and close the socket
  0.3 s later without reading the answer;
- ``huge-cutout``: one 9400x9400 JPEG (smooth, quality 60), output=cutout (expected: 422 for
  the memory budget at 2048 MB);
- ``aspect-1:20``: 4 concurrent 1024 px cut-outs with ``aspect=1:20``;
- ``cross-origin``: 20 multipart requests with ``Origin: http://evil.example`` and 20 raw
  ``Content-Type: text/plain`` ones with that Origin (expected: 403);
- ``wrong-host``: 10 ``GET /`` and 10 cut-out requests with ``Host: evil.example`` (expected: 400);
- ``get-flood``: 8 threads calling ``GET /healthz`` in a loop.

Each phase is bounded (``--phase-limit``, 40 s: no normal request starts later, unfinished attack
requests are cut off); after each, the script waits for the server's CPU to go quiet (60 s at
most) so that one phase's leftover work does not count in the next. The server's RSS (its process
and any children, VmRSS from /proc) is sampled every 50 ms. Prints a markdown table, one row a
phase (attack, what the attack requests were answered, normal requests answered 200, their p95,
p95 over the calm p95, peak RSS), then one verdict line a target: normal requests 100 % 200
during every attack, p95 <= 2x calm, peak RSS <= --max-memory-mb + 300; and a note when other
processes used over a quarter of a core during a phase (this client shares the machine's cores
with the server too: the GET flood's own threads count against it). The JSON adds each normal
latency, CPU seconds per phase (server, client, other) and the first body of each error answer.
Exits 0 whether or not the targets are met (a measurement); 1 only when the server does not
start. Server flags that the installed ``fusionmat serve`` does not have (from its --help) are
left out, and said so; the server's output, with its access log, goes to --server-log.
"""
from __future__ import annotations

import http.client
import io
import json
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import click
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import free_port  # noqa: E402

HOST = "127.0.0.1"
EVIL = "http://evil.example"
ATTACKS = ("idle-bodies", "slow-headers", "abandoned", "huge-cutout", "aspect-1:20", "cross-origin", "wrong-host",
           "get-flood")
REQUEST_TIMEOUT = 30.0
"""Seconds a normal request may take before it counts as failed ('timeout')."""
ATTACK_TIMEOUT = 90.0
"""Seconds an attack request may wait for its answer (phases cut them off sooner)."""


# ---------------------------------------------------------------- photos and requests

class Photos:
    """The astronaut at a side, JPEG-encoded, its top-left 8x8 block coloured by a counter so that
    every request's photo differs (no cached matte)."""

    def __init__(self) -> None:
        from skimage import data

        self.base = data.astronaut()
        self._sides: dict[int, np.ndarray] = {}
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, side: int) -> bytes:
        with self._lock:
            self._count += 1
            i = self._count
            if side not in self._sides:
                self._sides[side] = np.asarray(Image.fromarray(self.base).resize((side, side)))
            pixels = self._sides[side].copy()
        pixels[:8, :8] = (i % 256, (i // 256) % 256, 77)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=92)
        return buffer.getvalue()


def huge_jpeg(side: int = 9400) -> bytes:
    """A smooth side x side JPEG (the astronaut scaled up, quality 60): cheap to upload, big to decode."""
    from skimage import data

    buffer = io.BytesIO()
    Image.fromarray(data.astronaut()).resize((side, side), Image.BILINEAR).save(buffer, format="JPEG", quality=60)
    return buffer.getvalue()


def multipart(photo: bytes, **fields: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
             for k, v in fields.items()]
    parts.append((f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
                  f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


class Tracker:
    """One attack's answers (a Counter of labels) and its open connections, to cut off at the end."""

    def __init__(self, expected: int | None = None) -> None:
        self.answers: Counter = Counter()
        self.lock = threading.Lock()
        self.expected = expected
        self._socks: set[socket.socket] = set()
        self.stopped = threading.Event()
        self.samples: dict[str, str] = {}
        """The first answer body of each status other than 200 (its first 300 characters)."""

    def record(self, label) -> None:
        with self.lock:
            self.answers[label] += 1

    def hold(self, sock: socket.socket) -> None:
        with self.lock:
            self._socks.add(sock)

    def release(self, sock: socket.socket) -> None:
        with self.lock:
            self._socks.discard(sock)

    def abort(self) -> int:
        """Shut down the connections still waiting; how many."""
        self.stopped.set()
        with self.lock:
            socks = list(self._socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(socks)

    def snapshot(self) -> dict:
        with self.lock:
            answers = dict(self.answers)
        if self.expected is not None:
            missing = self.expected - sum(answers.values())
            if missing > 0:
                answers["cut off"] = answers.get("cut off", 0) + missing
        return answers


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
            timeout: float = REQUEST_TIMEOUT, tracker: Tracker | None = None) -> int | str:
    """One request on its own connection: the status, or 'timeout', 'closed', 'refused', 'error'."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.connect()
        if tracker is not None:
            if tracker.stopped.is_set():
                return "cut off"
            tracker.hold(connection.sock)
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        body = answer.read()
        if tracker is not None and answer.status != 200:
            tracker.samples.setdefault(str(answer.status), body[:300].decode(errors="replace"))
        return answer.status
    except TimeoutError:
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
        return "cut off" if tracker is not None and tracker.stopped.is_set() else "closed"
    except OSError:
        return "cut off" if tracker is not None and tracker.stopped.is_set() else "error"
    finally:
        if tracker is not None and connection.sock is not None:
            tracker.release(connection.sock)
        connection.close()


def cutout_request(port: int, photo: bytes, tracker: Tracker | None = None, timeout: float = REQUEST_TIMEOUT,
                   headers: dict | None = None, **fields: str) -> tuple[int | str, float]:
    body, content_type = multipart(photo, output="cutout", **fields)
    start = time.perf_counter()
    status = request(port, "POST", "/api/matte", body, {"Content-Type": content_type, **(headers or {})},
                     timeout=timeout, tracker=tracker)
    return status, time.perf_counter() - start


def status_of(data: bytes) -> int | str:
    """The status of an HTTP answer's first bytes, or 'answered' when unreadable."""
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(match.group(1)) if match else "answered"


# ---------------------------------------------------------------- the server

def tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return pids


def rss_mb(pid: int) -> float:
    """VmRSS of the process and its children, in MB."""
    total = 0
    for p in tree_pids(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process and its children, in seconds."""
    import os

    total = 0
    for p in tree_pids(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def cpu_usage(pid: int) -> tuple[float, float, float]:
    """CPU seconds so far of the server (and children), of this process, and of the whole machine."""
    import os

    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    machine = sum(int(f) for i, f in enumerate(fields) if i not in (3, 4)) / os.sysconf("SC_CLK_TCK")  # not idle
    own = os.times()
    return cpu_seconds(pid), own.user + own.system, machine


class RssSampler:
    """The peak RSS of the server while running, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def server_flags(source: Path | None) -> set[str]:
    """The long options of `fusionmat serve` (run from ``source``, a checkout, when given)."""
    out = subprocess.run([sys.executable, "-m", "fusionmat", "serve", "--help"], capture_output=True, text=True,
                         timeout=120, cwd=source).stdout
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", out))


def start_server(wanted: dict[str, str | None], log: Path,
                 source: Path | None) -> tuple[subprocess.Popen, int, list[str]]:
    """The server with the wanted flags it has (others dropped, returned), once /healthz answers 200."""
    known = server_flags(source)
    port = free_port()
    args, dropped = ["--host", HOST, "--port", str(port)], []
    for flag, value in wanted.items():
        if value is None:
            continue
        if flag in known:
            args += [flag, value]
        else:
            dropped.append(flag)
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "fusionmat", "serve", *args], stdout=sink,
                                   stderr=subprocess.STDOUT, cwd=source)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"the server exited ({process.returncode}) before answering: "
                                       f"{log.read_text(errors='replace')[-2000:]}")
        if request(port, "GET", "/healthz", timeout=2) == 200:
            return process, port, dropped
        time.sleep(0.3)
    stop_server(process)
    raise click.ClickException("the server did not answer /healthz within 180 s")


def stop_server(process: subprocess.Popen) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return process.returncode


def settle(pid: int, limit: float = 60.0) -> float:
    """Wait until the server uses under 5 % of a core for 1 s (at most ``limit`` s); the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.05:
            break
    return time.monotonic() - start


# ---------------------------------------------------------------- attacks
# Each attack is started with (port, settings, photos) and returns (tracker, threads, notes): one
# with ``tracker.expected`` None runs until ``tracker.stopped`` is set (when the normal requests are
# done); the others send their bounded number of requests, cut off at the phase's limit.

class RawHolders:
    """``count`` raw connections that send ``head``, then ``drip`` once a second if given; each one's
    fate is recorded: the status the server answered, 'closed' (by the server), 'reset', or 'open'
    (still open when the phase ended, closed by us); with the seconds from the end of ``head``.
    They are held until ``stop`` is set and at least ``hold`` seconds have passed."""

    def __init__(self, port: int, count: int, head: bytes, drip: bytes | None, tracker: Tracker,
                 hold: float) -> None:
        self.port, self.count, self.head, self.drip, self.tracker = port, count, head, drip, tracker
        self.hold_until = time.monotonic() + hold
        self.closed_after: list[float] = []

    def run(self, stop: threading.Event) -> None:
        selector = selectors.DefaultSelector()
        opened: dict[socket.socket, float] = {}
        for _ in range(self.count):
            sock = socket.socket()
            sock.settimeout(5)
            try:
                sock.connect((HOST, self.port))
                sock.sendall(self.head)
            except OSError as exc:
                sock.close()
                self.tracker.record("timeout" if isinstance(exc, TimeoutError) else "refused")
                continue
            sock.setblocking(False)
            opened[sock] = time.monotonic()
            selector.register(sock, selectors.EVENT_READ)

        def finish(sock: socket.socket, label) -> None:
            selector.unregister(sock)
            self.tracker.record(label)
            if label != "open":
                self.closed_after.append(time.monotonic() - opened[sock])
            sock.close()
            del opened[sock]

        next_drip = time.monotonic() + 1.0
        while opened and (not stop.is_set() or time.monotonic() < self.hold_until):
            for key, _ in selector.select(timeout=0.1):
                try:
                    data = key.fileobj.recv(4096)
                    finish(key.fileobj, status_of(data) if data else "closed")
                except BlockingIOError:
                    pass
                except OSError:
                    finish(key.fileobj, "reset")
            if self.drip is not None and time.monotonic() >= next_drip:
                next_drip += 1.0
                for sock in list(opened):
                    try:
                        sock.send(self.drip)
                    except BlockingIOError:
                        pass
                    except OSError:
                        finish(sock, "reset")
        for sock in list(opened):
            finish(sock, "open")
        selector.close()

    def notes(self) -> str:
        if not self.closed_after:
            return ""
        return f"closed after {min(self.closed_after):.1f}-{max(self.closed_after):.1f} s"


def holders_attack(port: int, count: int, head: bytes, drip: bytes | None, hold: float):
    tracker = Tracker()
    holders = RawHolders(port, count, head, drip, tracker, hold)
    thread = threading.Thread(target=holders.run, args=(tracker.stopped,), daemon=True)
    thread.start()
    return tracker, [thread], holders.notes


def idle_bodies(port, settings, photos):
    head = (f"POST /api/matte HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: multipart/form-data; boundary={uuid.uuid4().hex}\r\n"
            f"Content-Length: 1000000\r\n\r\n--").encode()
    return holders_attack(port, settings["max_queue"], head, None, settings["hold"])


def slow_headers(port, settings, photos):
    head = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nX-Slow: ".encode()
    return holders_attack(port, 32, head, b"a", settings["hold"])


def in_threads(tracker: Tracker, jobs) -> list[threading.Thread]:
    """One daemon thread a job (a callable returning a label to record)."""
    threads = [threading.Thread(target=lambda job=job: tracker.record(job()), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    return threads


def abandoned(port, settings, photos):
    tracker = Tracker(expected=20)

    def one(photo: bytes):
        body, content_type = multipart(photo, output="cutout")
        head = (f"POST /api/matte HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with socket.create_connection((HOST, port), timeout=10) as sock:
            sock.sendall(head + body)
            time.sleep(0.3)
            sock.setblocking(False)
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                return "abandoned"
            except OSError:
                return "reset"
            return status_of(data) if data else "closed"

    pictures = [photos(1024) for _ in range(20)]
    return tracker, in_threads(tracker, [lambda p=p: one(p) for p in pictures]), None


def huge_cutout(port, settings, photos):
    tracker = Tracker(expected=1)
    photo = settings["huge"]
    job = lambda: cutout_request(port, photo, tracker, timeout=ATTACK_TIMEOUT)[0]  # noqa: E731
    return tracker, in_threads(tracker, [job]), f"{len(photo) / 1e6:.1f} MB upload"


def aspect(port, settings, photos):
    tracker = Tracker(expected=4)
    pictures = [photos(1024) for _ in range(4)]
    jobs = [lambda p=p: cutout_request(port, p, tracker, timeout=ATTACK_TIMEOUT, aspect="1:20")[0] for p in pictures]
    return tracker, in_threads(tracker, jobs), None


def sequence(tracker: Tracker, label: str, jobs) -> threading.Thread:
    """A daemon thread running ``jobs`` one after another (until the tracker is stopped)."""

    def run() -> None:
        for job in jobs:
            if tracker.stopped.is_set():
                return
            tracker.record(f"{label} {job()}")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def cross_origin(port, settings, photos):
    tracker = Tracker(expected=40)
    pictures = [photos(512) for _ in range(40)]
    origin = {"Origin": EVIL}
    form = [lambda p=p: cutout_request(port, p, tracker, headers=origin)[0] for p in pictures[:20]]
    text = [lambda p=p: request(port, "POST", "/api/matte?output=cutout", p,
                                {"Content-Type": "text/plain", **origin}, tracker=tracker) for p in pictures[20:]]
    return tracker, [sequence(tracker, "multipart", form), sequence(tracker, "text/plain", text)], None


def wrong_host(port, settings, photos):
    tracker = Tracker(expected=20)
    pictures = [photos(512) for _ in range(10)]
    evil = {"Host": "evil.example"}
    jobs = [lambda: request(port, "GET", "/", headers=evil, tracker=tracker) for _ in range(10)]
    thread = sequence(tracker, "GET /", jobs)
    posts = [lambda p=p: cutout_request(port, p, tracker, headers=evil)[0] for p in pictures]
    return tracker, [thread, sequence(tracker, "POST", posts)], None


def get_flood(port, settings, photos):
    tracker = Tracker()

    def flood() -> None:
        connection = None
        while not tracker.stopped.is_set():
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(HOST, port, timeout=10)
                    connection.connect()
                    tracker.hold(connection.sock)
                connection.request("GET", "/healthz")
                answer = connection.getresponse()
                answer.read()
                tracker.record(answer.status)
                if answer.getheader("connection", "").lower() == "close":
                    raise ConnectionError
            except (OSError, http.client.HTTPException) as exc:
                if not tracker.stopped.is_set():
                    tracker.record("timeout" if isinstance(exc, TimeoutError) else "closed")
                if connection is not None:
                    if connection.sock is not None:
                        tracker.release(connection.sock)
                    connection.close()
                connection = None
                time.sleep(0.01)
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=flood, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    return tracker, threads, None


RUNNERS = {"idle-bodies": idle_bodies, "slow-headers": slow_headers, "abandoned": abandoned,
           "huge-cutout": huge_cutout, "aspect-1:20": aspect, "cross-origin": cross_origin,
           "wrong-host": wrong_host, "get-flood": get_flood}


# ---------------------------------------------------------------- phases

def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def normal_requests(port: int, photos: Photos, count: int, deadline: float) -> list[tuple[int | str, float]]:
    """``count`` 512 px cut-outs one after another; those not started before ``deadline`` are 'skipped'."""
    results = []
    for _ in range(count):
        if time.monotonic() > deadline:
            results.append(("skipped", 0.0))
            continue
        results.append(cutout_request(port, photos(512)))
    return results


def phase(name: str, port: int, pid: int, photos: Photos, count: int, settings: dict, limit: float) -> dict:
    """One attack (or the calm phase, ``name`` 'calm') with ``count`` normal requests through it;
    the first body of each status other than 200 that the attack requests got goes in the JSON."""
    cpu_before = cpu_usage(pid)
    with RssSampler(pid) as sampler:
        start = time.monotonic()
        tracker, threads, notes = None, [], None
        if name != "calm":
            tracker, threads, notes = RUNNERS[name](port, settings, photos)
            time.sleep(0.5)  # the attack in place before the first normal request
        results = normal_requests(port, photos, count, start + limit)
        normal_seconds = time.monotonic() - start
        if tracker is not None:
            if tracker.expected is None:  # an attack that lasts as long as the normal requests
                tracker.stopped.set()
            for thread in threads:  # a bounded one: its requests answered, or cut off at the limit
                thread.join(max(0.0, start + limit - time.monotonic()))
            cut = tracker.abort()
            for thread in threads:
                thread.join(5)
    (server, client, machine) = (after - before for after, before in zip(cpu_usage(pid), cpu_before))
    ok = [seconds for status, seconds in results if status == 200]
    row = {"attack": name, "normal_statuses": dict(Counter(str(s) for s, _ in results)),
           "normal_ok": len(ok) / len(results) if results else float("nan"), "normal_p95_s": p95(ok),
           "normal_latencies_s": [round(s, 3) for _, s in results], "normal_seconds": round(normal_seconds, 1),
           "peak_rss_mb": round(sampler.peak, 1), "phase_seconds": round(time.monotonic() - start, 1),
           "cpu_s": {"server": round(server, 1), "client": round(client, 1),
                     "other": round(max(0.0, machine - server - client), 1)}}
    if tracker is not None:
        row["attack_answers"] = tracker.snapshot()
        row["attack_notes"] = notes() if callable(notes) else notes
        row["attack_cut_off"] = cut
        row["attack_answer_samples"] = tracker.samples
    return row


def answers_text(row: dict) -> str:
    if row["attack"] == "calm":
        return "-"
    answers = {k: v for k, v in sorted(row["attack_answers"].items(), key=lambda kv: str(kv[0]))}
    text = str(answers)
    return f"{text}, {row['attack_notes']}" if row.get("attack_notes") else text


def table(rows: list[dict], calm_p95: float) -> str:
    lines = ["| attack | attack answers | normal ok % | normal p95 s | p95/calm | peak RSS MB |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        ratio = row["normal_p95_s"] / calm_p95 if calm_p95 > 0 else float("nan")
        row["p95_ratio"] = round(ratio, 2)
        lines.append(f"| {row['attack']} | {answers_text(row)} | {100 * row['normal_ok']:.0f} | "
                     f"{row['normal_p95_s']:.2f} | {ratio:.2f} | {row['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def verdicts(rows: list[dict], calm_p95: float, rss_limit: float) -> list[tuple[str, bool, str]]:
    attacks = [r for r in rows if r["attack"] != "calm"]
    not_ok = [f"{r['attack']} {100 * r['normal_ok']:.0f} % ({r['normal_statuses']})"
              for r in attacks if r["normal_ok"] < 1]
    slow = [f"{r['attack']} {r['p95_ratio']:.1f}x" for r in attacks if not r["p95_ratio"] <= 2.0]
    heavy = [f"{r['attack']} {r['peak_rss_mb']:.0f} MB" for r in rows if r["peak_rss_mb"] > rss_limit]
    peak = max(rows, key=lambda r: r["peak_rss_mb"])
    return [("normal requests 100 % 200 during every attack", not not_ok, "; ".join(not_ok)),
            (f"normal p95 <= 2x calm ({calm_p95:.2f} s)", not slow, "; ".join(slow)),
            (f"peak RSS <= {rss_limit:.0f} MB", not heavy,
             "; ".join(heavy) or f"highest {peak['peak_rss_mb']:.0f} MB ({peak['attack']})")]


@click.command()
@click.option("--normal", "count", default=12, show_default=True, help="Normal requests per phase.")
@click.option("--engine", default="modnet", show_default=True)
@click.option("--workers", type=int, default=None, help="Passed to the server (its default otherwise).")
@click.option("--max-queue", default=16, show_default=True, help="Passed to the server; the idle bodies' count.")
@click.option("--max-memory-mb", default=2048, show_default=True, help="Passed to the server; RSS target + 300.")
@click.option("--body-timeout", default=5.0, show_default=True, help="Passed to the server (seconds).")
@click.option("--attacks", default=",".join(ATTACKS), show_default=True, help="Comma-separated subset, in order.")
@click.option("--phase-limit", default=40.0, show_default=True, help="Seconds an attack phase may last.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the figures here.")
@click.option("--server-log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The server's output (default: a temporary file, named at the end).")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Serve the fusionmat package of this checkout (e.g. an older commit's `git archive`).")
def main(count, engine, workers, max_queue, max_memory_mb, body_timeout, attacks, phase_limit, json_path,
         server_log, source):
    chosen = [a.strip() for a in attacks.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in RUNNERS]
    if unknown:
        raise click.BadParameter(f"unknown attack(s) {', '.join(unknown)}; known: {', '.join(ATTACKS)}",
                                 param_hint="--attacks")
    photos = Photos()
    # raw connections are held long enough to see the server's timeout (twice over), within the phase
    settings = {"max_queue": max_queue, "hold": min(2 * body_timeout + 3, phase_limit - 1)}
    if "huge-cutout" in chosen:
        settings["huge"] = huge_jpeg()
    if server_log is None:
        server_log = Path(tempfile.mkstemp(prefix="fusionmat-serve-faults-", suffix=".log")[1])
    wanted = {"--engine": engine, "--workers": None if workers is None else str(workers),
              "--max-queue": str(max_queue), "--max-memory-mb": str(max_memory_mb),
              "--body-timeout": f"{body_timeout:g}", "--access-log": "-"}
    process, port, dropped = start_server(wanted, server_log, source)
    rows: list[dict] = []
    problems: list[str] = []
    try:
        click.echo(f"server pid {process.pid} on {HOST}:{port}, engine {engine}, RSS {rss_mb(process.pid):.0f} MB"
                   + (f"; flags it lacks, left out: {' '.join(dropped)}" if dropped else ""), err=True)
        status, first = cutout_request(port, photos(512))  # not counted: the calm phase starts warm
        click.echo(f"first request: {status} in {first:.2f} s", err=True)
        for name in ["calm", *chosen]:
            if process.poll() is not None:
                problems.append(f"the server exited ({process.returncode}) before {name}")
                break
            rows.append(phase(name, port, process.pid, photos, count, settings, phase_limit))
            row = rows[-1]
            if process.poll() is None:
                row["settle_seconds"] = round(settle(process.pid), 1)
            click.echo(f"{name}: normal {row['normal_statuses']}, p95 {row['normal_p95_s']:.2f} s, "
                       f"attack {row.get('attack_answers', '-')}, peak RSS {row['peak_rss_mb']:.0f} MB, "
                       f"{row['phase_seconds']:.0f} s + {row.get('settle_seconds', 0):.0f} s settling; CPU s "
                       f"{row['cpu_s']}", err=True)
            if process.poll() is None and request(port, "GET", "/healthz", timeout=10) != 200:
                problems.append(f"/healthz did not answer 200 after {name}")
    finally:
        code = stop_server(process)
    if code not in (0, 130, -signal.SIGTERM):
        problems.append(f"the server's exit status after SIGTERM: {code}")
    log_text = server_log.read_text(errors="replace")
    if "Traceback" in log_text:
        problems.append(f"a traceback in the server log ({log_text.count('Traceback')})")
    calm_p95 = rows[0]["normal_p95_s"] if rows else float("nan")
    click.echo(table(rows, calm_p95))
    click.echo()
    results = verdicts(rows, calm_p95, max_memory_mb + 300)
    for target, passed, detail in results:
        click.echo(f"target {target}: {'PASS' if passed else 'FAIL'}" + (f" ({detail})" if detail else ""))
    for problem in problems:
        click.echo(f"problem: {problem}")
    busy = [f"{r['attack']} {r['cpu_s']['other'] / r['phase_seconds']:.1f}" for r in rows
            if r["phase_seconds"] > 0 and r["cpu_s"]["other"] / r["phase_seconds"] > 0.25]
    if busy:
        click.echo(f"note: other processes used CPU during phases (cores): {', '.join(busy)}; latencies are noisy")
    click.echo(f"server log: {server_log}" + (f"; flags left out: {' '.join(dropped)}" if dropped else ""))
    if json_path is not None:
        figures = {"engine": engine, "workers": workers, "max_queue": max_queue, "max_memory_mb": max_memory_mb,
                   "body_timeout": body_timeout, "normal_per_phase": count, "flags_left_out": dropped,
                   "first_request": [status, round(first, 3)], "calm_p95_s": calm_p95, "phases": rows,
                   "problems": problems,
                   "targets": [{"target": t, "passed": p, "detail": d} for t, p, d in results]}
        json_path.write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
