"""Load test of `fusionmat serve`: a real server on 127.0.0.1, N requests at concurrency C.

Usage:
    python benchmarks/serve_load.py [--requests 300] [--concurrency 8] [--engine modnet] [--workers 1]
                                    [--photos ../shared/samples/test_images] [--screenshot docs/serve_page.png]

Sends cut-out requests (multipart, the photos in turn; default: scikit-image's astronaut at
512 and 1024 px), bounded in count and time, and prints requests/s, p50/p95 latency, errors,
503s, and the server's RSS after the first 20 and after all requests. Then the per-request
overhead: one photo's latency through the server at concurrency 1 against the same work in
the library (matte + cut-out + PNG encoding) in this process, same engine. With --screenshot,
also saves the web page after matting the astronaut (headless chromium).
"""
from __future__ import annotations

import io
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import click
from PIL import Image


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multipart(photo: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"p.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + photo + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(url: str, photo: bytes) -> tuple[int, float]:
    body, content_type = multipart(photo)
    request = urllib.request.Request(url + "api/matte", data=body, headers={"Content-Type": content_type})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            answer.read()
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError:
        status = -1
    return status, time.perf_counter() - start


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def photos_from(folder: Path | None) -> list[bytes]:
    if folder is not None:
        found = [p.read_bytes() for p in sorted(folder.glob("*.jpg")) if "_concat" not in p.name]
        if found:
            return found
    from skimage import data

    out = []
    for side in (512, 1024):
        buffer = io.BytesIO()
        Image.fromarray(data.astronaut()).resize((side, side)).save(buffer, format="JPEG", quality=92)
        out.append(buffer.getvalue())
    return out


def start_server(engine: str, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "fusionmat", "serve", "--port", str(port), "--engine", engine,
                                "--workers", str(workers)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(300):
        try:
            with urllib.request.urlopen(url + "healthz", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise click.ClickException("the server did not start within 60 s")


@click.command()
@click.option("--requests", "count", default=300, show_default=True)
@click.option("--concurrency", default=8, show_default=True)
@click.option("--engine", default="modnet", show_default=True)
@click.option("--photos", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None)
@click.option("--time-limit", default=1800, show_default=True, help="Seconds before the rest is abandoned.")
@click.option("--screenshot", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--workers", default=1, show_default=True, help="The server's --workers.")
def main(count, concurrency, engine, photos, time_limit, screenshot, workers):
    pictures = photos_from(photos)
    process, url = start_server(engine, workers)
    try:
        results: list[tuple[int, float]] = []
        lock = threading.Lock()
        rss_after_20: list[float] = []
        next_index = iter(range(count))
        deadline = time.monotonic() + time_limit

        def client() -> None:
            for i in next_index:
                if time.monotonic() > deadline:
                    return
                outcome = post(url, pictures[i % len(pictures)])
                with lock:
                    results.append(outcome)
                    if len(results) == 20:
                        rss_after_20.append(rss_mb(process.pid))

        start = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        rss_end = rss_mb(process.pid)
        ok = sorted(t for s, t in results if s == 200)
        busy = sum(1 for s, _ in results if s == 503)
        errors = sum(1 for s, _ in results if s not in (200, 503))
        click.echo(f"{len(results)} requests at concurrency {concurrency}, engine {engine}, "
                   f"{len(pictures)} photo(s): {len(results) / wall:.2f} requests/s")
        if ok:
            click.echo(f"latency p50 {statistics.median(ok):.2f} s, p95 {ok[int(0.95 * (len(ok) - 1))]:.2f} s")
        click.echo(f"errors {errors}, 503s {busy}")
        click.echo(f"server RSS after 20 requests {rss_after_20[0] if rss_after_20 else float('nan'):.0f} MB, "
                   f"after {len(results)}: {rss_end:.0f} MB")
        overhead(url, pictures[-1], engine)
        if screenshot is not None:
            take_screenshot(url, screenshot)
    finally:
        process.terminate()
        process.wait(30)


def overhead(url: str, photo: bytes, engine: str, repeat: int = 5) -> None:
    """Latency of one request at concurrency 1 against the same work in the library."""
    import numpy as np

    import fusionmat
    from fusionmat.io.read import read_image
    from fusionmat.io.write import encode
    from fusionmat.outputs.plan import cutout

    served = []
    for i in range(repeat):
        status, seconds = post(url, photo + bytes([i % 256]))  # bytes after the end: no cache hit
        if status == 200:
            served.append(seconds)
    loaded = fusionmat.load_engine(engine)
    local = []
    for _ in range(repeat):
        start = time.perf_counter()
        source = io.BytesIO(photo)
        rgb = read_image(source, dtype=np.uint8)
        cut = cutout(rgb, fusionmat.matte(rgb, engine=loaded))
        encode(cut, "PNG", io.BytesIO())
        local.append(time.perf_counter() - start)
    s, lib = statistics.median(served), statistics.median(local)
    click.echo(f"one photo, concurrency 1: server {s:.3f} s, library {lib:.3f} s, "
               f"overhead {100 * (s / lib - 1):+.1f} %")


def take_screenshot(url: str, path: Path) -> None:
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from skimage import data

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            photo = Path(tmp) / "astronaut.jpg"
            Image.fromarray(data.astronaut()).save(photo, quality=90)
            driver.get(url)
            chooser = driver.find_element(By.ID, "file")
            driver.execute_script("arguments[0].hidden = false;", chooser)
            chooser.send_keys(str(photo))
            WebDriverWait(driver, 120).until(
                lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "done")
            driver.execute_script("arguments[0].hidden = true;", chooser)
            png = driver.get_screenshot_as_png()
        shot = Image.open(io.BytesIO(png)).convert("RGB")
        shot.thumbnail((900, 900))
        shot.save(path, optimize=True) if path.suffix == ".png" else shot.save(path, quality=85)
        click.echo(f"screenshot: {path}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
