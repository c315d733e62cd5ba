"""Running the application on uvicorn: the port is bound before anything loads, slow headers are
cut off, and SIGTERM or Ctrl-C lets the requests in progress finish (up to a grace period)."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable

from fusionmat.errors import FusionmatError
from fusionmat.serve.settings import ServeSettings


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``; FusionmatError in one line when it cannot be had
    (in use, not an address of this machine, a privileged port)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        if isinstance(exc, socket.gaierror):
            reason = f"{host!r} is not an address or a known name"
        raise FusionmatError(f"cannot listen on {host}:{port}: {reason.lower()}") from None
    sock.set_inheritable(True)
    return sock


def header_timeout_protocol(timeout: float):
    """uvicorn's h11 protocol with a deadline for each request's headers: a connection that has
    not sent a whole request head ``timeout`` s after it opened (or after its last answer) is
    closed, so slow-header clients cannot hold connections. The body's own timeout is the app's."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        _head_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        _partial = False  # some of a request's head has come

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._serving():
                self._disarm()  # the app has the request: its body and work have their own limits
            elif data:
                self._partial = True

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self._serving() and not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            """h11's refusals (a head too large, a malformed request) as JSON, with nosniff."""
            body = json.dumps({"error": f"bad request: {msg.rstrip('.').lower()}"}).encode()
            self.transport.write(BAD_REQUEST % len(body) + body)
            self.transport.close()

        def _serving(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm(self) -> None:
            self._disarm()
            self._partial = False
            self._head_timer = self.loop.call_later(timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _too_slow(self) -> None:
            self._head_timer = None
            if self._serving() or self.transport.is_closing():
                return
            if self._partial and self.conn.our_state is h11.IDLE:  # a head begun and not finished: say why
                body = f'{{"error": "the request headers took over {timeout:g} s"}}'.encode()
                self.transport.write(SLOW_HEAD % len(body) + body)
            self.transport.close()

    return TimedH11Protocol


STOP_BACKSTOP = 60
"""Seconds after the grace period before uvicorn cancels what is still running (a step of a
request told to stop can take a while on a large photo)."""
SLOW_HEAD = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
             b"x-content-type-options: nosniff\r\ncontent-length: %d\r\n\r\n")
BAD_REQUEST = SLOW_HEAD.replace(b"408 Request Timeout", b"400 Bad Request")


def serve(settings: ServeSettings | None = None, *, ready: Callable[[], None] | None = None) -> int | None:
    """Bind, load the engines, serve until SIGINT or SIGTERM; returns the signal that stopped it.

    A busy port or a missing model is a FusionmatError before anything is served (the port is
    bound first, so nothing loads in vain). On a signal the server stops accepting, lets the
    requests in progress finish for up to ``settings.grace`` seconds, then returns. ``ready``
    is called once it listens with its engines loaded."""
    import uvicorn

    from fusionmat.serve.app import admission_for, create_app
    from fusionmat.serve.workers import Workers

    class Server(uvicorn.Server):
        stopped_by: int | None = None

        @contextlib.contextmanager
        def capture_signals(self):
            """As uvicorn's, without raising the signal again at the end: the caller exits as documented."""
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

        def handle_exit(self, sig, frame) -> None:
            self.stopped_by = self.stopped_by or sig
            super().handle_exit(sig, frame)

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if ready is not None and self.started:
                ready()

        async def shutdown(self, sockets=None) -> None:
            """uvicorn's drain, with requests still in progress after the grace period told to
            stop at their next step (answered 503) rather than cancelled mid-call."""
            import asyncio

            late = asyncio.get_running_loop().call_later(settings.grace, app.state.stop_requests)
            try:
                await super().shutdown(sockets)
            finally:
                late.cancel()

    settings = settings or ServeSettings()
    sock = bind(settings.host, settings.port)
    try:
        workers = Workers(settings)
        admission_for(settings)  # too small a --max-memory-mb: said before serving
        app = create_app(settings, workers)
        config = uvicorn.Config(app, http=header_timeout_protocol(settings.body_timeout),
                                log_level="warning", access_log=False, server_header=False, lifespan="on",
                                timeout_keep_alive=5, timeout_graceful_shutdown=settings.grace + STOP_BACKSTOP)
        server = Server(config)
        server.run(sockets=[sock])
        return server.stopped_by
    finally:
        sock.close()
