"""The server's inference threads: each with its own engine and detectors (LiteRT interpreters
are not thread-safe), each request through :func:`fusionmat.run.process.process`."""
from __future__ import annotations

import io
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fusionmat.errors import BudgetError, Cancelled, FusionmatError, ImageReadError
from fusionmat.serve.options import FORMATS, HTTPError, RequestOptions, request_plan
from fusionmat.serve.settings import ServeSettings

CACHE_ENTRIES = 4
"""Mattes kept for the last photos (8-bit), so the page's cut-out and composite of a photo whose
matte it just asked for cost no second inference."""
log = logging.getLogger("fusionmat.serve")


class Workers:
    """The inference pool: ``settings.workers`` threads, each with its own engine and detectors
    (shared by its preprocessors). Engines load here, so a missing or corrupt model file is a
    FusionmatError before anything is served; each is warmed up on a small picture."""

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
        self.warm_up()

    def warm_up(self) -> None:
        """Run every thread once on a small grey picture with the default settings, so the memory
        the engines and detectors keep is taken before the budget is measured, and the first
        request is not slower than the others."""
        from fusionmat.serve.options import parse_request_options

        options = parse_request_options({"output": "matte"}, self.settings)
        grey = np.full((96, 96, 3), 128, np.uint8)
        barrier = threading.Barrier(self.settings.workers)

        def once():
            barrier.wait()  # one call on each thread
            self._run(None, grey, options, None, None)

        for future in [self.pool.submit(once) for _ in range(self.settings.workers)]:
            future.result()

    def _engine(self):
        if not hasattr(self._local, "engine"):
            with self._lock:
                self._local.engine = self._free.pop()
            self._local.preprocessors, self._local.detectors = {}, {}
        return self._local.engine, self._local.preprocessors, self._local.detectors

    def answer(self, data: bytes, key: str, options: RequestOptions, picture: bytes | None = None,
               cancel: threading.Event | None = None) -> bytes:
        """The requested output of one uploaded photo (and background picture), encoded, in a
        pool thread; its matte is cached by ``key`` (8-bit). ``cancel`` set: stopped at the next
        step (Cancelled)."""
        from fusionmat.io.write import encode, to_uint8

        picture = decode_upload(picture, "background") if picture else None
        with self.cache_lock:
            cached = self.cache.get(key)
            if cached is not None:
                self.cache.move_to_end(key)
        outcome = self._run(data, None, options, picture, cancel, matte=cached)
        outcome.job.check()  # the client may have left while the output was made: no encoding then
        if cached is None:
            with self.cache_lock:
                self.cache[key] = to_uint8(outcome.alpha)
                while len(self.cache) > CACHE_ENTRIES:
                    self.cache.popitem(last=False)
        buffer = io.BytesIO()
        try:
            encode(outcome.rendered[options.kind], FORMATS[options.format][0], buffer, quality=options.quality,
                   name="answer")
        except FusionmatError as exc:
            raise HTTPError(400, str(exc).removeprefix("answer: ")) from None
        return buffer.getvalue()

    def _run(self, data, pixels, options: RequestOptions, picture, cancel, matte=None):
        import dataclasses

        from fusionmat.matting.pipeline import refine_method
        from fusionmat.preprocess.chain import build_preprocessor
        from fusionmat.run.process import Job, Session, process

        engine, preprocessors, detectors = self._engine()
        if options.preprocessing not in preprocessors:
            preprocessors[options.preprocessing] = build_preprocessor(*options.preprocessing, threads=self._threads,
                                                                      detectors=detectors, tilt=engine.tilt)
        session = Session(engine, refine_method(engine), preprocessors[options.preprocessing])
        session = dataclasses.replace(session, plan=request_plan(options, picture))
        job = Job("upload", data=data, pixels=pixels, matte=matte, keep=("alpha", options.kind), cancel=cancel)
        outcome = process(job, session)
        if outcome.error:
            raise error_for(outcome)
        return outcome

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def error_for(outcome) -> Exception:
    """The answer for a failed photo: 422 over the pixel budget, 415 not an image, 400 for a
    request fusionmat refused, Cancelled as it is, 500 (without internals) for anything unexpected."""
    exc = outcome.exception
    if isinstance(exc, Cancelled):
        return exc
    if isinstance(exc, BudgetError):
        return HTTPError(422, outcome.error)
    if isinstance(exc, ImageReadError):
        return HTTPError(415, outcome.error)
    if isinstance(exc, (FusionmatError, ValueError)):
        return HTTPError(400, outcome.error)
    log.error("matting failed: %s", outcome.error)
    return HTTPError(500, "internal error while matting; the server log has the details")


def decode_upload(data: bytes, name: str = "upload") -> np.ndarray:
    """An uploaded picture as uint8 RGB; HTTPError 422 over the pixel limit, 415 for anything else."""
    from fusionmat.io.read import read_image

    source = io.BytesIO(data)
    source.name = name
    try:
        return read_image(source, dtype=np.uint8)
    except ImageReadError as exc:
        raise HTTPError(422 if isinstance(exc, BudgetError) else 415, str(exc)) from None


def probe_upload(data: bytes, name: str = "upload") -> tuple[int, int]:
    """(width, height) of an uploaded picture from its header alone; HTTPError as :func:`decode_upload`."""
    from fusionmat.io.read import image_size

    source = io.BytesIO(data)
    source.name = name
    try:
        return image_size(source)
    except ImageReadError as exc:
        raise HTTPError(422 if isinstance(exc, BudgetError) else 415, str(exc)) from None
