"""What stands before the application (ASGI middleware): which Host and Origin are served, the
security headers of every answer, and the access log.

- **Host allow-list** (DNS rebinding: a page on ``evil.example`` whose name is made to point at
  127.0.0.1 would otherwise reach a local server): a request whose ``Host`` is not allowed is 400.
- **Origin check**: a browser names the page that sends a POST; one from another site (a page
  the user happens to visit, spending this machine's CPU) is 403, unless ``--allow-origin``
  lists it. Requests without ``Origin`` (curl, scripts) are not browsers' and pass.
- **Headers**: ``nosniff``, a Content-Security-Policy that lets the page load only its own
  script, style and the images it makes, no framing, no referrer.
"""
from __future__ import annotations

import ipaddress
import json
import re
import sys
import time
from typing import IO

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
       "form-action 'none'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"content-security-policy", CSP.encode()),
                    (b"x-frame-options", b"DENY"), (b"referrer-policy", b"no-referrer")]
LOOPBACK = ("localhost", "127.0.0.1", "::1")
WILDCARD = ("0.0.0.0", "::", "")


HOST = re.compile(r"(?:\[(?P<ip6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9._-]+))(?::[0-9]{1,5})?")


def host_name(header: str) -> str:
    """The name in a Host header, lower case, without port or IPv6 brackets; '' for anything
    that is not a well-formed ``name[:port]`` or ``[v6][:port]`` (so it is served nowhere)."""
    found = HOST.fullmatch(header.lower())
    return "" if found is None else (found["ip6"] or found["name"])


def default_hosts(bind: str) -> frozenset[str]:
    """The Host names served by default: the bind address and the loopback names; a server bound
    to every address (0.0.0.0) also answers to this machine's name and addresses."""
    import socket

    names = {host_name(bind), *LOOPBACK}
    if bind in WILDCARD:
        hostname = socket.gethostname()
        names |= {hostname.lower(), socket.getfqdn().lower()}
        try:
            names |= {info[4][0].lower() for info in socket.getaddrinfo(hostname, None)}
        except OSError:
            pass
    return frozenset(names - set(WILDCARD))


async def send_json(send, status: int, message: str, headers: list | None = None) -> None:
    """A whole JSON error answer, with the security headers."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *SECURITY_HEADERS, *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Host allow-list, Origin check and security headers around ``app``.

    hosts : Host names served (:func:`host_name` form); None serves any.
    origins : extra origins (``https://app.example``) whose pages may POST; '*' any.
    """

    def __init__(self, app, *, hosts: frozenset[str] | None, origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            return await send_json(send, 400, f"this server does not answer to Host {host!r}; start it with "
                                              f"--allowed-host NAME for a name it should answer to")
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            cross_site = headers.get("sec-fetch-site") == "cross-site"
            if origin is not None:
                # the page's own origin names this Host (its scheme may differ behind a TLS proxy)
                same = origin.lower().partition("://")[2] == host.lower()
                allowed = same or origin in self.origins or "*" in self.origins
            else:
                allowed = not cross_site
            if not allowed:
                return await send_json(send, 403, f"a request from the page at {origin or 'another site'} is "
                                                  f"refused; start the server with --allow-origin ORIGIN to allow one")

        async def secured(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []),
                                                  *(h for h in SECURITY_HEADERS if h[0] not in present)]}
            await send(message)

        await self.app(scope, receive, secured)


class AccessLog:
    """One line per answered request in the Common Log Format
    (``host - - [day/Mon/year:H:M:S zone] "METHOD path HTTP/v" status bytes``) to ``stream``."""

    def __init__(self, app, stream: IO[str]) -> None:
        self.app = app
        self.stream = stream

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        answered = {"status": 0, "bytes": 0}

        async def counted(message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answered["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            self.write(scope, answered["status"], answered["bytes"])

    def write(self, scope, status: int, size: int) -> None:
        client = (scope.get("client") or ("-",))[0]
        try:
            ipaddress.ip_address(client)
        except ValueError:
            client = "-"  # only an address is written (X-Forwarded-For is text a client chooses)
        target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        target = target.replace("\\", "\\\\").replace('"', '\\"')
        when = time.strftime("%d/%b/%Y:%H:%M:%S %z")
        line = (f'{client} - - [{when}] "{scope["method"]} {target} HTTP/{scope.get("http_version", "1.1")}" '
                f'{status or "-"} {size or "-"}\n')
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a full disk or a closed log never takes the server down


def open_log(target: str | None) -> IO[str] | None:
    """The access log's stream: None (off), standard output for '-', or a file appended to."""
    if target is None:
        return None
    if target == "-":
        return sys.stdout
    return open(target, "a", encoding="utf-8", buffering=1)
