"""`fusionmat serve`: every endpoint and every error, through Starlette's test client."""
from __future__ import annotations

import io
import os
import tempfile
import threading

import numpy as np
import pytest
from PIL import Image

from tests.conftest import import_or_skip, requires_weights

import_or_skip("starlette")
import_or_skip("httpx")


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo(astronaut) -> bytes:
    return png_bytes(np.asarray(Image.fromarray(astronaut).resize((192, 160))))


def client_for(**settings):
    from starlette.testclient import TestClient

    from fusionmat.serve.app import ServeSettings, create_app

    return TestClient(create_app(ServeSettings(engine="selfie", **settings)), raise_server_exceptions=False,
                      base_url="http://localhost")


@pytest.fixture(scope="module")
def client():
    with client_for() as client:
        yield client


@requires_weights
def test_health_engines_and_page(client):
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["engine"] == "selfie"
    engines = client.get("/api/engines").json()
    assert engines["default"] == "selfie" and {e["name"] for e in engines["engines"]} >= {"modnet", "selfie"}
    page, script, style = client.get("/"), client.get("/page.js"), client.get("/page.css")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert script.status_code == style.status_code == 200 and "api/matte" in script.text
    assert "http" not in script.text + style.text  # nothing from outside
    assert "<script>" not in page.text and "<style>" not in page.text  # the policy forbids inline code
    assert "script-src 'self'" in page.headers["content-security-policy"]


@requires_weights
def test_cutout_by_default_with_the_photo_size(client, photo):
    answer = client.post("/api/matte", files={"image": ("p.png", photo, "image/png")})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    cut = Image.open(io.BytesIO(answer.content))
    assert cut.mode == "RGBA" and cut.size == (192, 160)
    alpha = np.asarray(cut)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255


@requires_weights
@pytest.mark.parametrize("params, mode, size, content_type", [
    ({"output": "matte"}, "L", (192, 160), "image/png"),
    ({"output": "concat", "format": "jpg"}, "RGB", (384, 160), "image/jpeg"),
    ({"output": "concat"}, "RGB", (384, 160), "image/png"),  # PNG is every output's default
    ({"output": "composite", "bg": "#00ff00", "format": "webp"}, "RGB", (192, 160), "image/webp"),
    ({"output": "composite", "bg": "transparent"}, "RGBA", (192, 160), "image/png"),
    ({"output": "composite", "bg": "blur:10", "rotate": "none", "crop": "none"}, "RGB", (192, 160), "image/png"),
])
def test_outputs_from_a_raw_body(client, photo, params, mode, size, content_type):
    answer = client.post("/api/matte", params=params, content=photo, headers={"content-type": "image/png"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == content_type
    image = Image.open(io.BytesIO(answer.content))
    assert image.mode == mode and image.size == size


@requires_weights
def test_a_composite_on_an_uploaded_picture(client, photo):
    teal = png_bytes(np.full((50, 80, 3), (20, 120, 140), np.uint8))  # no channel at 0 or 255: scaled alike
    answer = client.post("/api/matte", data={"output": "composite"},
                         files={"image": ("p.png", photo, "image/png"), "background": ("bg.png", teal, "image/png")})
    assert answer.status_code == 200, answer.text
    corner = np.asarray(Image.open(io.BytesIO(answer.content)))[0, 0].astype(int)
    assert np.abs(corner - (20, 120, 140)).max() <= 2, corner


@requires_weights
@pytest.mark.parametrize("params, body, status, words", [
    ({"output": "x"}, "photo", 400, "output must be one of"),
    ({"format": "jpg"}, "photo", 400, "cannot hold the cutout's transparency"),
    ({"output": "composite"}, "photo", 400, "needs bg"),
    ({"bg": "#12"}, "photo", 400, "background colour must be"),
    ({"rotate": "nan"}, "photo", 400, "finite"),
    ({"quality": "0"}, "photo", 400, "quality must be 1-100"),
    ({"quality": "\u00b2"}, "photo", 400, "quality must be 1-100"),  # a digit to Python, not a number
    ({}, "", 400, "no photo"),
    ({}, "text", 415, "not an image"),
    ({}, "bomb", 422, "too many pixels"),
])
def test_errors_are_json_with_the_right_status(client, photo, params, body, status, words):
    bomb = io.BytesIO()
    Image.new("1", (13000, 13000)).save(bomb, format="PNG")
    content = {"photo": photo, "": b"", "text": b"not a photo", "bomb": bomb.getvalue()}[body]
    answer = client.post("/api/matte", params=params, content=content)
    assert answer.status_code == status and words in answer.json()["error"], answer.text
    assert "Traceback" not in answer.text


@requires_weights
def test_uploads_over_the_limit_are_413_and_leave_no_temp_file(photo):
    before = set(os.listdir(tempfile.gettempdir()))
    big = photo + b"\0" * 300_000
    with client_for(max_upload_mb=0.1) as client:
        raw = client.post("/api/matte", content=big)
        form = client.post("/api/matte", files={"image": ("p.png", big, "image/png")})
        assert raw.status_code == form.status_code == 413 and "over the limit" in raw.json()["error"]
        ok = client.post("/api/matte", files={"image": ("p.png", photo, "image/png")})
        assert ok.status_code == 200
    assert set(os.listdir(tempfile.gettempdir())) - before == set()


@requires_weights
def test_past_the_queue_bound_requests_get_503_with_retry_after(photo, monkeypatch):
    import fusionmat.serve.app as serve

    entered, release = threading.Event(), threading.Event()
    real = serve.Workers.answer

    def slow(self, *args):
        entered.set()
        release.wait(30)
        return real(self, *args)

    monkeypatch.setattr(serve.Workers, "answer", slow)
    with client_for(max_queue=1) as client:
        first: dict = {}
        worker = threading.Thread(target=lambda: first.update(answer=client.post("/api/matte", content=photo)))
        worker.start()
        assert entered.wait(30)
        busy = client.post("/api/matte", content=photo)
        release.set()
        worker.join(60)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "2" and "busy" in busy.json()["error"]
    assert first["answer"].status_code == 200


@requires_weights
def test_an_unexpected_failure_is_a_500_without_a_trace(photo, monkeypatch):
    import fusionmat.outputs.plan as plan

    def broken(*args):
        raise RuntimeError("secret internals")

    with client_for() as client:
        monkeypatch.setattr(plan, "render", broken)  # after the start's warm-up
        answer = client.post("/api/matte", content=photo)
    assert answer.status_code == 500 and "secret" not in answer.text and "internal error" in answer.json()["error"]


def raw_png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 128).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def no_inference(monkeypatch):
    """Fails a test whose request reaches the engine (parameters must be refused before)."""
    import fusionmat.serve.app as serve

    def never(*args, **kwargs):
        raise AssertionError("the request reached inference")

    monkeypatch.setattr(serve.Workers, "answer", never)


@requires_weights
@pytest.mark.parametrize("params, body, words", [
    ({"output": "composite", "bg": "blur:nan"}, "photo", "SIGMA > 0"),
    ({"output": "composite", "bg": "blur:-1"}, "photo", "SIGMA > 0"),
    ({"output": "composite", "bg": "setup.py"}, "photo", "bg must be a colour"),  # never a file of the server
    ({"output": "matte", "format": "webp"}, "wide", "too wide for WebP (at most 16383 px a side); use format=png"),
    ({"output": "concat", "format": "jpg"}, "concat", "too wide for JPEG"),
])
def test_bad_parameters_are_400_before_inference(client, photo, no_inference, params, body, words):
    content = {"photo": photo, "wide": raw_png(17000, 20), "concat": raw_png(33000, 20)}[body]
    answer = client.post("/api/matte", params=params, content=content)
    assert answer.status_code == 400 and words in answer.json()["error"], answer.text


@requires_weights
def test_a_tiny_upload_is_named_as_the_upload(client):
    answer = client.post("/api/matte", content=raw_png(1, 1))
    assert answer.status_code == 415 and answer.json()["error"].startswith("upload: image is 1x1"), answer.text
    assert "0x" not in answer.text and "BytesIO" not in answer.text


@requires_weights
def test_every_answer_is_json_or_the_asked_type_with_nosniff(client, photo):
    answers = [client.get("/nowhere"), client.delete("/api/matte"), client.get("/api/matte"),
               client.post("/api/matte", content=b"x"), client.get("/"), client.get("/healthz")]
    assert [a.status_code for a in answers] == [404, 405, 405, 415, 200, 200]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert all(a.headers["content-type"] == "application/json" and "error" in a.json() for a in answers[:4])


@requires_weights
@pytest.mark.parametrize("host, allowed, status", [
    ("evil.example", (), 400),  # DNS rebinding: a name pointed at 127.0.0.1
    ("localhost:8000", (), 200),
    ("127.0.0.1", (), 200),
    ("[::1]:8000", (), 200),
    ("[::1]evil.example", (), 400),  # malformed: served nowhere
    ("127.0.0.1:8000@evil.example", (), 400),
    ("127.0.0.1 ", (), 400),
    ("localhost.", (), 400),
    ("photos.example:443", ("photos.example",), 200),
    ("localhost", ("photos.example",), 200),  # added to the defaults, not instead
    ("evil.example", ("photos.example",), 400),
    ("anything", ("*",), 200),
])
def test_the_host_header_is_checked(host, allowed, status):
    with client_for(allowed_hosts=allowed) as client:
        answer = client.get("/healthz", headers={"host": host})
    assert answer.status_code == status, answer.text
    if status == 400:
        assert "--allowed-host" in answer.json()["error"]


@requires_weights
@pytest.mark.parametrize("headers, allow, status", [
    ({"origin": "http://evil.example"}, (), 403),
    ({"origin": "null"}, (), 403),  # a sandboxed frame or a file:// page
    ({"sec-fetch-site": "cross-site"}, (), 403),
    ({"origin": "http://localhost"}, (), 200),  # the page itself
    ({}, (), 200),  # curl, scripts
    ({"origin": "https://app.example"}, ("https://app.example",), 200),
    ({"origin": "http://evil.example"}, ("https://app.example",), 403),
])
def test_posts_from_other_sites_pages_are_refused(photo, headers, allow, status):
    with client_for(allow_origins=allow) as client:
        answer = client.post("/api/matte", params={"output": "matte"}, content=photo,
                             headers={"content-type": "text/plain", **headers})
    assert answer.status_code == status, answer.text
    if status == 403:
        assert "--allow-origin" in answer.json()["error"]
    if allow and status == 200:
        assert answer.headers["access-control-allow-origin"] == headers["origin"]


@requires_weights
def test_a_photo_whose_working_memory_cannot_fit_is_422_from_its_header(monkeypatch, no_inference):
    import fusionmat.serve.app as serve

    monkeypatch.setattr(serve, "resident_bytes", lambda: 0)  # the whole --max-memory-mb for requests
    with client_for(max_memory_mb=256) as client:
        answer = client.post("/api/matte", content=raw_png(3000, 3000))  # a cut-out: about 850 MB
        matte = client.post("/api/matte", params={"output": "matte", "aspect": "1:20"}, content=raw_png(3000, 3000))
    assert answer.status_code == 422 and "over this server's memory budget of 256 MB" in answer.json()["error"]
    assert matte.status_code == 422 and "needs about" in matte.json()["error"]


@requires_weights
def test_health_checks_model_files_without_hashing_them_again(client, monkeypatch):
    import fusionmat.engines.weights as weights

    hashed = []
    monkeypatch.setattr(weights, "sha256_file", lambda path, *a: hashed.append(path) or "0")
    for _ in range(5):
        assert client.get("/healthz").json()["status"] == "ok"
    assert hashed == []


def test_the_access_log_writes_addresses_only():
    import io as text_io

    from fusionmat.serve.guard import AccessLog

    stream = text_io.StringIO()
    log = AccessLog(None, stream)
    scope = {"method": "GET", "path": "/", "raw_path": b"/a\"b", "query_string": b"", "http_version": "1.1"}
    log.write({**scope, "client": ('6.6.6.6 - - [01/Jan/2000] "GET /admin" 200 1 #', 0)}, 200, 5)
    log.write({**scope, "client": ("::1", 0)}, 404, 0)
    first, second = stream.getvalue().splitlines()
    assert first.startswith('- - - [') and first.endswith('"GET /a\\"b HTTP/1.1" 200 5')
    assert second.startswith("::1 - - [") and second.endswith(" 404 -")
