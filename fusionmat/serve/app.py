"""``fusionmat serve``'s application (Starlette): the API, the page, and how a request is let in.

API:

- ``POST /api/matte``: the photo as multipart field ``image`` or as the raw body; parameters
  (query or form): ``output`` matte|cutout|composite|concat (default cutout), ``bg`` (a colour,
  transparent, blur[:SIGMA]) or a picture as field ``background``, ``fit``, ``format``
  png|jpg|webp (default png), ``quality``, ``rotate``, ``crop``, ``aspect``. Answers the image.
- ``GET /healthz``: the engine, its model files (checked by size and time, hashed once), the
  requests in progress and the memory budget; ``GET /api/engines``: the engines.
- ``GET /``: the page (``static/index.html`` with its own script and style, nothing from outside).

A request's way in (:mod:`fusionmat.serve.admission`): its body is reserved in the memory
budget and read with timeouts; its options and the photo's header are checked (400, 413, 415,
422) before it takes a place in the queue; it waits (smallest first) for an inference thread
and its memory; a request whose client has gone is dropped while it waits, and stopped between
steps while it runs. Errors are JSON ``{"error": "..."}``; see docs/serve.md.
"""
from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

from fusionmat.errors import Cancelled, FusionmatError
from fusionmat.serve.admission import MB, Admission, Refused, default_max_memory_mb, resident_bytes
from fusionmat.serve.options import FORMATS, HTTPError, check_output_size, parse_request_options, whole
from fusionmat.serve.settings import ServeSettings
from fusionmat.serve.workers import Workers, probe_upload

__all__ = ["ServeSettings", "Workers", "create_app"]

STATIC = Path(__file__).with_name("static")
PAGE_FILES = {"/": ("index.html", "text/html"), "/page.js": ("page.js", "text/javascript"),
              "/page.css": ("page.css", "text/css")}
CLOSE = {"Connection": "close"}
MIN_BUDGET_MB = 64


def admission_for(settings: ServeSettings) -> Admission:
    """The admission of a server whose engines are loaded: its budget is ``max_memory_mb`` less
    what the process holds now; FusionmatError when that leaves too little."""
    total = (settings.max_memory_mb or default_max_memory_mb()) * MB
    taken = resident_bytes()
    if total - taken < MIN_BUDGET_MB * MB:
        raise FusionmatError(f"--max-memory-mb {total // MB} leaves no room for requests: the loaded engines "
                             f"already take {taken // MB} MB (give at least {taken // MB + MIN_BUDGET_MB})")
    return Admission(total - taken, settings.workers, settings.max_queue)


def create_app(settings: ServeSettings | None = None, workers: Workers | None = None):
    """The ASGI application; ``workers`` already loaded, or engines load when it starts (lifespan)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    from fusionmat.serve.guard import AccessLog, Guard, default_hosts, open_log

    settings = settings or ServeSettings()
    state: dict = {"inflight": set(), "stopping": False}
    limit = int(settings.max_upload_mb * MB)
    over_limit = f"upload is over the limit of {settings.max_upload_mb:g} MB"

    @asynccontextmanager
    async def lifespan(app):
        loaded = workers or await asyncio.get_running_loop().run_in_executor(None, Workers, settings)
        state["workers"], state["admission"] = loaded, admission_for(settings)
        try:
            yield
        finally:
            loaded.close()

    async def read_body(request: Request, most: int, reserve) -> bytes:
        """The body, 413 past ``most`` bytes, 408 when it stalls ``body_timeout`` s or runs past
        its deadline, Cancelled when the client leaves, 503 when the server stops; each chunk is
        reserved (``reserve(nbytes)``) as it arrives, so a body holds only what it has sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.body_deadline
        body = bytearray()
        chunks = request.stream().__aiter__()
        while True:
            wait = min(settings.body_timeout, deadline - loop.time())
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), max(wait, 0.001))
            except StopAsyncIteration:
                return bytes(body)
            except TimeoutError:
                raise HTTPError(408, f"the request body stalled (no data for {settings.body_timeout:g} s, or "
                                     f"over {settings.body_deadline:g} s in all)", CLOSE) from None
            except ClientDisconnect:
                raise Cancelled("the client left while sending its body") from None
            if state["stopping"]:
                raise HTTPError(503, "the server is stopping; try again shortly", {**CLOSE, "Retry-After": "5"})
            if len(body) + len(chunk) > most:
                raise HTTPError(413, over_limit, CLOSE)
            reserve(len(chunk))
            body.extend(chunk)

    async def split(request: Request, body: bytes, params: dict) -> tuple[bytes, bytes | None]:
        """(photo, background picture or None) from a multipart body; form fields into ``params``."""
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
                raise HTTPError(413, over_limit)
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
            background = form.get("background")
            picture = await background.read() if isinstance(background, UploadFile) else None
            if picture is not None and len(picture) > limit:
                raise HTTPError(413, f"background picture is over the limit of {settings.max_upload_mb:g} MB")
        finally:
            await form.close()  # spooled parts are freed (anonymous temp files: nothing on disk)
        return data, picture or None

    async def cost_of(data: bytes, picture: bytes | None, options) -> int:
        """The request's working memory, from the headers alone (400/415/422 on the way)."""
        from fusionmat.limits import estimate_bytes
        from fusionmat.preprocess.chain import parse_aspect, parse_rotate

        width, height = await asyncio.to_thread(probe_upload, data)
        check_output_size(options, width, height)
        background = 0
        if picture is not None:
            bw, bh = await asyncio.to_thread(probe_upload, picture, "background")
            background = bw * bh
        aspect = parse_aspect(options.aspect)
        return estimate_bytes(width, height, options.kind, rotate=parse_rotate(options.rotate),
                              aspect=None if aspect == "none" else aspect, background_pixels=background)

    async def until_gone(request: Request, gone: threading.Event) -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone.set()

    def lighter(options) -> str:
        """What would make a request lighter, for the 422 of one that can never fit."""
        ways = ["a smaller photo"]
        if options.aspect != "none" or options.rotate != "none":
            ways.append("rotate=none and no aspect")
        if options.kind != "matte":
            ways.append("output=matte")
        return ", ".join(ways[:-1]) + (" or " if len(ways) > 1 else "") + ways[-1]

    def stop_requests() -> None:
        """Called when the grace period of a shutdown is over: every request still waiting or
        running stops at its next step and is answered 503."""
        state["stopping"] = True
        for stop in list(state["inflight"]):
            stop()

    async def matte_endpoint(request: Request) -> Response:
        admission: Admission = state["admission"]
        workers: Workers = state["workers"]
        params = dict(request.query_params)
        multipart = request.headers.get("content-type", "").lower().startswith("multipart/form-data")
        if not multipart:
            parse_request_options(params, settings)  # a bad parameter before the body is read
        # a multipart body also carries a background picture and the form's envelope
        most = limit + (limit + 65536 if multipart else 0)
        declared = request.headers.get("content-length", "")
        if whole(declared) and int(declared) > most:
            raise HTTPError(413, over_limit, CLOSE)
        reserved = [0]

        def reserve(nbytes: int) -> None:
            nbytes *= 2 if multipart else 1  # the form's parts are copies
            admission.reserve(nbytes)
            reserved[0] += nbytes

        try:
            body = await read_body(request, most, reserve)
            data, picture = await split(request, body, params) if multipart else (body, None)
            del body
            if not data:
                raise HTTPError(400, "no photo: send it as multipart field 'image' or as the request body")
            options = parse_request_options(params, settings, has_picture=picture is not None)
            cost = await cost_of(data, picture, options)
            gone = threading.Event()
            watcher = asyncio.ensure_future(until_gone(request, gone))

            def stop() -> None:
                gone.set()
                watcher.cancel()

            state["inflight"].add(stop)
            try:
                entering = asyncio.ensure_future(admission.enter(cost, lighter(options)))
                await asyncio.wait({entering, watcher}, return_when=asyncio.FIRST_COMPLETED)
                if not entering.done():
                    entering.cancel()
                    raise Cancelled("the client left while waiting")
                entering.result()
                try:
                    key = hashlib.sha256(data).hexdigest() + repr(options.preprocessing)
                    answer = await asyncio.get_running_loop().run_in_executor(
                        workers.pool, workers.answer, data, key, options, picture, gone)
                finally:
                    admission.leave(cost)
                if gone.is_set():
                    raise Cancelled("the client left before the answer")
            except Cancelled:
                if state["stopping"]:
                    raise HTTPError(503, "the server is stopping; try again shortly",
                                    {**CLOSE, "Retry-After": "5"}) from None
                raise
            finally:
                state["inflight"].discard(stop)
                gone.set()  # if this task was cancelled, the worker stops at its next step
                watcher.cancel()
            return Response(answer, media_type=FORMATS[options.format][1])
        finally:
            admission.release(reserved[0])

    async def healthz(request: Request) -> Response:
        from fusionmat.engines import engine_class
        from fusionmat.engines.weights import file_status

        def files():
            return {name: file_status(name) for name in engine_class(settings.engine).files}

        status = await asyncio.to_thread(files)
        admission: Admission | None = state.get("admission")
        ok = admission is not None and all(v == "ok" for v in status.values())
        body = {"status": "ok" if ok else "unavailable", "engine": settings.engine, "files": status,
                "workers": settings.workers}
        if admission is not None:
            body.update(busy=admission.busy, memory_mb={"budget": admission.budget // MB, "used": admission.used // MB})
        return JSONResponse(body, status_code=200 if ok else 503)

    async def engines(request: Request) -> Response:
        from fusionmat.engines import ENGINES, engine_class
        from fusionmat.engines.weights import file_status

        def listing():
            return [{"name": name, "loaded": name == settings.engine,
                     "options": {o.name: o.help for o in engine_class(name).options},
                     "files": {f: file_status(f) for f in engine_class(name).files}} for name in ENGINES]

        return JSONResponse({"default": settings.engine, "engines": await asyncio.to_thread(listing)})

    async def page(request: Request) -> Response:
        name, media_type = PAGE_FILES[request.url.path]
        return FileResponse(STATIC / name, media_type=media_type)

    def error(status: int, message: str, headers: dict | None = None) -> Response:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def http_error(request: Request, exc: HTTPError) -> Response:
        return error(exc.status, str(exc), exc.headers)

    async def refused(request: Request, exc: Refused) -> Response:
        return error(exc.status, str(exc), {"Retry-After": "2"} if exc.status == 503 else None)

    async def starlette_error(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, exc.detail, exc.headers)

    async def cancelled(request: Request, exc: Cancelled) -> Response:
        return error(499, "the client left; the request was dropped", CLOSE)  # nobody reads it: for the log

    async def fusionmat_error(request: Request, exc: FusionmatError) -> Response:
        return error(400, str(exc))

    def answered(endpoint):
        """``endpoint`` with anything unexpected logged in one line and answered 500 (Starlette
        would print a traceback)."""
        import functools
        import logging

        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            try:
                return await endpoint(request)
            except (HTTPError, Refused, Cancelled, FusionmatError, HTTPException):
                raise
            except Exception as exc:  # noqa: BLE001 - the last line of defence: one line in the log
                logging.getLogger("fusionmat.serve").error("%s %s failed: %r", request.method, request.url.path, exc)
                raise HTTPError(500, "internal error while matting; the server log has the details") from None

        return wrapper

    routes = [*(Route(path, answered(page)) for path in PAGE_FILES), Route("/healthz", answered(healthz)),
              Route("/api/engines", answered(engines)), Route("/api/matte", answered(matte_endpoint), methods=["POST"])]
    hosts = None if "*" in settings.allowed_hosts else frozenset(settings.allowed_hosts) | default_hosts(settings.host)
    middleware = [Middleware(Guard, hosts=hosts, origins=frozenset(settings.allow_origins))]
    if settings.allow_origins:
        from starlette.middleware.cors import CORSMiddleware

        middleware.append(Middleware(CORSMiddleware, allow_origins=list(settings.allow_origins),
                                     allow_methods=["GET", "POST"], allow_headers=["content-type"]))
    log = open_log(settings.access_log)
    if log is not None:
        middleware.insert(0, Middleware(AccessLog, stream=log))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware,
                    exception_handlers={HTTPError: http_error, Refused: refused, HTTPException: starlette_error,
                                        Cancelled: cancelled, FusionmatError: fusionmat_error})
    app.state.stop_requests = stop_requests
    return app
