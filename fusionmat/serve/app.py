"""``fusionmat serve``: an HTTP API and a web page for matting (Starlette on uvicorn).

The engine is loaded once per inference worker at start; requests are decoded and answered on
the event loop, the pipeline runs in a bounded pool of worker threads (each with its own engine
and detectors: LiteRT interpreters are not thread-safe). Past ``max_queue`` requests waiting or
running, a request is answered 503 with Retry-After at once instead of piling up.

API:

- ``POST /api/matte``: the photo as multipart field ``image`` or as the raw body; parameters
  (query or form): ``output`` matte|cutout|composite|concat (default cutout), ``bg`` (as the
  CLI's ``--bg``), ``fit``, ``format`` png|jpg|webp, ``quality``, ``rotate``, ``crop``, ``aspect``.
  Answers the image bytes with their content type.
- ``GET /healthz``: the engine and its model files; ``GET /api/engines``: the engines.
- ``GET /``: the page (``fusionmat/serve/static/index.html``, no external assets).

Errors are JSON ``{"error": "..."}``: 400 bad parameter, 413 upload over the limit, 415 not an
image, 422 over the pixel limit (decompression bombs are refused before decoding), 503 busy.
Uploads are read into memory (never a temporary file).
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusionmat.errors import BudgetError, FusionmatError, ImageReadError

OUTPUTS = ("cutout", "matte", "composite", "concat")
FORMATS = {"png": ("PNG", "image/png"), "jpg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}
PAGE = Path(__file__).with_name("static") / "index.html"
CACHE_ENTRIES = 4
"""Mattes kept for the last photos (8-bit), so the page's cut-out and composite of a photo whose
matte it just asked for cost no second inference."""


@dataclass(frozen=True)
class ServeSettings:
    """How the server runs: engine, its options, limits and the default preprocessing."""

    engine: str = "modnet"
    engine_options: tuple = ()
    workers: int = 1
    threads: int | None = None
    max_upload_mb: float = 25.0
    max_queue: int = 16
    rotate: str = "auto"
    crop: str = "auto"
    aspect: str = "none"


class HTTPError(Exception):
    """An answer other than 200: status and the words for ``{"error": ...}``."""

    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


class Workers:
    """The inference pool: ``count`` threads, each with its own engine and preprocessors."""

    def __init__(self, settings: ServeSettings) -> None:
        from fusionmat.engines import load_engine

        self.settings = settings
        threads = settings.threads or max(1, (os.cpu_count() or 1) // settings.workers)
        self._local = threading.local()
        self._engines = [load_engine(settings.engine, threads=threads, **dict(settings.engine_options))
                         for _ in range(settings.workers)]
        self._free = list(self._engines)
        self._lock = threading.Lock()
        self._threads = threads
        self.pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="fusionmat-infer")
        self.name = self._engines[0].name
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.cache_lock = threading.Lock()

    def _engine(self):
        if not hasattr(self._local, "engine"):
            with self._lock:
                self._local.engine = self._free.pop()
            self._local.preprocessors = {}
        return self._local.engine, self._local.preprocessors

    def answer(self, data: bytes, key: str, options: dict, picture: np.ndarray | None) -> bytes:
        """The requested output of one uploaded photo, encoded (in a pool thread), through
        :func:`fusionmat.run.process.process`; its matte is cached by ``key`` (8-bit)."""
        from fusionmat.io.write import encode
        from fusionmat.run.process import Job, process

        with self.cache_lock:
            cached = self.cache.get(key)
            if cached is not None:
                self.cache.move_to_end(key)
        kind = {"matte": "matte", "cutout": "cutout", "composite": "composite", "concat": "preview"}[options["output"]]
        job = Job(options.get("name") or "upload", data=data, matte=cached, keep=("alpha", kind))
        outcome = process(job, self._session(options, picture))
        if outcome.error:
            raise error_for(outcome)
        if cached is None:
            from fusionmat.io.write import to_uint8

            with self.cache_lock:
                self.cache[key] = to_uint8(outcome.alpha)
                while len(self.cache) > CACHE_ENTRIES:
                    self.cache.popitem(last=False)
        buffer = io.BytesIO()
        try:
            encode(outcome.rendered[kind], FORMATS[options["format"]][0], buffer, quality=options["quality"],
                   name="answer")
        except FusionmatError as exc:
            raise HTTPError(400, str(exc).removeprefix("answer: ")) from None
        return buffer.getvalue()

    def _session(self, options: dict, picture: np.ndarray | None):
        """This thread's session (its own engine and preprocessors) with the request's output plan."""
        import dataclasses

        from fusionmat.matting.pipeline import refine_method
        from fusionmat.preprocess.chain import build_preprocessor
        from fusionmat.run.process import Session

        engine, preprocessors = self._engine()
        settings = (options["rotate"], options["crop"], options["aspect"])
        if settings not in preprocessors:
            preprocessors[settings] = build_preprocessor(*settings, threads=self._threads)
        session = Session(engine, refine_method(engine), preprocessors[settings])
        return dataclasses.replace(session, plan=request_plan(options, picture))

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def parse_request_options(params: dict, defaults: ServeSettings, *, has_picture: bool = False) -> dict:
    """The request's options, checked; HTTPError 400 naming a bad one. ``has_picture``: a
    background picture was uploaded (field ``background``)."""
    from fusionmat.outputs.compose import FITS
    from fusionmat.preprocess.chain import parse_aspect, parse_crop, parse_rotate

    output = params.get("output", "cutout")
    if output not in OUTPUTS:
        raise HTTPError(400, f"output must be one of {', '.join(OUTPUTS)}, got {output!r}")
    fmt = params.get("format") or ("jpg" if output == "concat" else "png")
    if fmt not in FORMATS:
        raise HTTPError(400, f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    fit = params.get("fit", "cover")
    if fit not in FITS:
        raise HTTPError(400, f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    try:
        quality = int(params.get("quality", 95))
        if not 1 <= quality <= 100:
            raise ValueError
    except ValueError:
        raise HTTPError(400, f"quality must be 1-100, got {params.get('quality')!r}") from None
    chosen = {}
    for name, parse in (("rotate", parse_rotate), ("crop", parse_crop), ("aspect", parse_aspect)):
        text = params.get(name, getattr(defaults, name))
        try:
            parse(text)
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        chosen[name] = text
    bg = params.get("bg") or None
    if output == "composite" and bg is None and not has_picture:
        raise HTTPError(400, "output=composite needs bg (a colour, transparent, blur[:SIGMA]) or a background picture")
    if bg is not None and bg != "blur" and not bg.startswith("blur:"):
        from fusionmat.outputs.compose import parse_colour

        try:
            if parse_colour(bg) is None:
                raise HTTPError(400, f"bg must be a colour, transparent or blur[:SIGMA] (a picture: upload it as "
                                     f"field 'background'), got {bg!r}")
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
    if fmt == "jpg" and (output == "cutout" or (output == "composite" and bg is not None and translucent(bg))):
        raise HTTPError(400, f"format=jpg cannot hold the {output}'s transparency; use png or webp")
    return {"output": output, "format": fmt, "fit": fit, "quality": quality, "bg": bg, **chosen}


def translucent(bg: str) -> bool:
    """True for a ``bg`` that lets the composite show through (#RRGGBBAA under ff, transparent)."""
    from fusionmat.outputs.compose import parse_background

    try:
        return parse_background(bg).translucent
    except ValueError:
        return False


def decode_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """An uploaded picture as uint8 RGB; HTTPError 422 over the pixel limit, 415 for anything else."""
    from fusionmat.io.read import read_image

    source = io.BytesIO(data)
    source.name = name
    try:
        return read_image(source, dtype=np.uint8)
    except ImageReadError as exc:
        raise HTTPError(422 if isinstance(exc, BudgetError) else 415, str(exc)) from None


def error_for(outcome) -> HTTPError:
    """The answer for a failed photo: 422 over the pixel budget, 415 not an image, 400 for a
    request fusionmat refused, 500 (without internals) for anything unexpected."""
    exc = outcome.exception
    if isinstance(exc, BudgetError):
        return HTTPError(422, outcome.error)
    if isinstance(exc, ImageReadError):
        return HTTPError(415, outcome.error)
    if isinstance(exc, (FusionmatError, ValueError)):
        return HTTPError(400, outcome.error)
    import logging

    logging.getLogger("fusionmat.serve").error("matting failed: %s", outcome.error)
    return HTTPError(500, "internal error while matting; the server log has the details")


def request_plan(options: dict, picture: np.ndarray | None):
    """The output plan of one request: its background (a colour, blur, or the uploaded picture) and quality."""
    from fusionmat.outputs.compose import Background, parse_background
    from fusionmat.outputs.plan import LoadedBackground, OutputPlan

    background = None
    if picture is not None:
        background = LoadedBackground(Background(path=Path("background")), picture, options["fit"])
    elif options["bg"] is not None:
        try:
            background = LoadedBackground(parse_background(options["bg"]), None, options["fit"])
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
    return OutputPlan(background=background, composite_format="png", quality=options["quality"])


def create_app(settings: ServeSettings = ServeSettings(), workers: Workers | None = None):
    """The ASGI application (Starlette); ``workers`` already loaded, or engines load when it starts
    (lifespan)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    state: dict = {"busy": 0}
    limit = int(settings.max_upload_mb * 1024 * 1024)

    @asynccontextmanager
    async def lifespan(app):
        state["workers"] = workers or await asyncio.get_running_loop().run_in_executor(None, Workers, settings)
        try:
            yield
        finally:
            state["workers"].close()

    async def read_limited(request: Request, slack: int) -> bytes:
        """The body, refused (413) as soon as it is over the limit plus ``slack`` bytes."""
        most = limit + slack
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > most:
            raise HTTPError(413, f"upload is over the limit of {settings.max_upload_mb:g} MB")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > most:
                raise HTTPError(413, f"upload is over the limit of {settings.max_upload_mb:g} MB")
        return bytes(body)

    async def upload(request: Request) -> tuple[bytes, dict, np.ndarray | None]:
        """(photo bytes, parameters, background picture or None) from a multipart or raw request."""
        params = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        multipart = content_type.startswith("multipart/form-data")
        # a multipart body also carries a background picture and the form's envelope
        body = await read_limited(request, 2 * limit + 65536 if multipart else 0)
        if not multipart:
            return body, params, None
        from starlette.datastructures import UploadFile
        from starlette.formparsers import MultiPartException, MultiPartParser

        async def once():
            yield body

        try:
            form = await MultiPartParser(request.headers, once(), max_part_size=limit).parse()
        except MultiPartException as exc:
            raise HTTPError(400, f"bad multipart body: {exc}") from None
        try:
            image = form.get("image")
            if not isinstance(image, UploadFile):
                raise HTTPError(400, "no photo: send it as multipart field 'image' or as the request body")
            data = await image.read()
            if len(data) > limit:
                raise HTTPError(413, f"upload is over the limit of {settings.max_upload_mb:g} MB")
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            picture = None
            background = form.get("background")
            if isinstance(background, UploadFile):
                raw = await background.read()
                if len(raw) > limit:
                    raise HTTPError(413, f"background picture is over the limit of {settings.max_upload_mb:g} MB")
                if raw:
                    picture = await asyncio.get_running_loop().run_in_executor(None, decode_upload, raw, "background")
        finally:
            await form.close()  # spooled parts are freed (anonymous temp files: nothing on disk)
        return data, params, picture

    async def matte_endpoint(request: Request) -> Response:
        if state["busy"] >= settings.max_queue:
            raise HTTPError(503, f"busy: {state['busy']} requests in progress; try again shortly",
                            {"Retry-After": "2"})
        state["busy"] += 1
        try:
            data, params, picture = await upload(request)
            if not data:
                raise HTTPError(400, "no photo: send it as multipart field 'image' or as the request body")
            options = parse_request_options(params, settings, has_picture=picture is not None)
            workers: Workers = state["workers"]
            loop = asyncio.get_running_loop()
            key = hashlib.sha256(data).hexdigest() + repr((options["rotate"], options["crop"], options["aspect"]))
            answer = await loop.run_in_executor(workers.pool, workers.answer, data, key, options, picture)
            return Response(answer, media_type=FORMATS[options["format"]][1])
        finally:
            state["busy"] -= 1

    async def healthz(request: Request) -> Response:
        from fusionmat.engines import engine_class
        from fusionmat.engines.weights import file_status

        workers = state.get("workers")
        files = {name: file_status(name) for name in engine_class(settings.engine).files}
        ok = workers is not None and all(v == "ok" for v in files.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "engine": settings.engine, "files": files,
                             "busy": state["busy"], "workers": settings.workers}, status_code=200 if ok else 503)

    async def engines(request: Request) -> Response:
        from fusionmat.engines import ENGINES, engine_class
        from fusionmat.engines.weights import file_status

        return JSONResponse({"default": settings.engine, "engines": [
            {"name": name, "loaded": name == settings.engine,
             "options": {o.name: o.help for o in engine_class(name).options},
             "files": {f: file_status(f) for f in engine_class(name).files}} for name in ENGINES]})

    async def page(request: Request) -> Response:
        return FileResponse(PAGE, media_type="text/html")

    async def http_error(request: Request, exc: HTTPError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=exc.headers)

    async def fusionmat_error(request: Request, exc: FusionmatError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    async def unexpected(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "internal error while matting; the server log has the details"},
                            status_code=500)

    routes = [Route("/", page), Route("/healthz", healthz), Route("/api/engines", engines),
              Route("/api/matte", matte_endpoint, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={HTTPError: http_error, FusionmatError: fusionmat_error,
                                         Exception: unexpected})


def serve(settings: ServeSettings = ServeSettings(), host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load the engines, then run the app on uvicorn until interrupted; a FusionmatError (a model
    file missing or corrupt) is raised before anything listens."""
    import uvicorn

    uvicorn.run(create_app(settings, Workers(settings)), host=host, port=port, log_level="warning")
