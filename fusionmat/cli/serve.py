"""``fusionmat serve``: the HTTP API and web page (:mod:`fusionmat.serve`) on uvicorn."""
from __future__ import annotations

import os

import click

from fusionmat.cli.common import echo_warning, engine_kwargs, engine_options, parse_preprocess_options
from fusionmat.errors import FusionmatError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 exposes the server to the network.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=min(2, os.cpu_count() or 1), show_default=True,
              help="Inference threads, each with its own engine (about 400 MB) and an equal share of the cores; "
                   "2 answers twice the requests of 1 on two cores (docs/serve.md).")
@click.option("--max-upload-mb", type=click.FloatRange(0.1, 1024), default=25.0, show_default=True,
              help="Larger uploads are answered 413.")
@click.option("--max-queue", type=click.IntRange(1, 10000), default=16, show_default=True,
              help="Requests waiting or running beyond this are answered 503 with Retry-After.")
@click.option("--max-memory-mb", type=click.IntRange(256, 1 << 24), default=None,
              help="Memory of the whole server (engines included, about 400 MB for modnet); requests wait for "
                   "their share, one that could never fit is answered 422.  [default: half the machine's memory]")
@click.option("--body-timeout", type=click.FloatRange(0.5, 3600), default=5.0, show_default=True, metavar="SECONDS",
              help="A request's headers must arrive within this, and its body may not stall longer nor take "
                   "over max(120, 4 x this) s in all (408).")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME",
              help="A Host name to answer besides the bind address and localhost (repeatable; '*' any); "
                   "needed behind a proxy or under a DNS name.")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="ORIGIN",
              help="A site whose pages may call the API (https://app.example; repeatable; '*' any); "
                   "others' POSTs are answered 403.")
@click.option("--access-log", metavar="FILE|-", default=None,
              help="Log each request in the Common Log Format to FILE or '-' (standard output).  [default: off]")
@click.option("--grace", type=click.FloatRange(0, 3600), default=30.0, show_default=True, metavar="SECONDS",
              help="On Ctrl-C or SIGTERM, how long requests in progress may take to finish.")
@click.option("--rotate", default="auto", show_default=True, metavar="auto|none|DEG",
              help="Default of the rotate parameter.")
@click.option("--crop", default="auto", show_default=True, metavar="auto|none|X,Y,W,H",
              help="Default of the crop parameter.")
@click.option("--aspect", default="none", show_default=True, metavar="none|W:H",
              help="Default of the aspect parameter.")
@engine_options
def serve(host, port, workers, max_upload_mb, max_queue, max_memory_mb, body_timeout, allowed_hosts,
          allow_origins, access_log, grace, rotate, crop, aspect, engine, engine_opts, refine, threads):
    """Serve the API and a web page: drop a photo, get its matte, cut-out and composite.

    Stops on Ctrl-C or SIGTERM after the requests in progress (exit 130).

    \b
    Examples:
      fusionmat serve                                   # http://127.0.0.1:8000/
      curl -F image=@photo.jpg http://127.0.0.1:8000/api/matte -o cutout.png
      curl -F image=@photo.jpg -F output=composite -F bg=white -F format=jpg \\
           http://127.0.0.1:8000/api/matte -o card.jpg
      curl -F image=@photo.jpg -F output=composite -F background=@beach.jpg \\
           http://127.0.0.1:8000/api/matte -o beach.png
      curl --data-binary @photo.jpg 'http://127.0.0.1:8000/api/matte?output=matte' -o matte.png
    """
    from fusionmat.serve.settings import ServeSettings

    parse_preprocess_options(rotate, crop, aspect)  # usage errors before the server starts
    options = engine_kwargs(engine, threads, engine_opts)
    options.pop("threads", None)
    if refine != "auto":
        raise click.BadParameter("the server uses each engine's own refinement", param_hint="--refine")
    try:
        from fusionmat.serve.server import serve as run
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"fusionmat serve needs {exc.name}: pip install 'fusionmat[serve]'") from None
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # [::1] as in a URL
    for origin in allow_origins:
        if origin != "*" and ("://" not in origin or origin.endswith("/")):
            raise click.BadParameter(f"an origin is scheme://host[:port], got {origin!r}", param_hint="--allow-origin")
    settings = ServeSettings(host=host, port=port, engine=engine, engine_options=tuple(sorted(options.items())),
                             workers=workers, threads=threads, max_upload_mb=max_upload_mb, max_queue=max_queue,
                             max_memory_mb=max_memory_mb, body_timeout=body_timeout, rotate=rotate, crop=crop,
                             aspect=aspect, allowed_hosts=tuple(h.lower() for h in allowed_hosts),
                             allow_origins=allow_origins, access_log=access_log, grace=grace)
    if access_log not in (None, "-"):
        from fusionmat.io.read import not_a_file

        if os.path.exists(access_log) and (reason := not_a_file(access_log)):
            raise click.BadParameter(reason, param_hint="--access-log")  # a FIFO would block the start
        try:
            open(access_log, "a").close()
        except OSError as exc:
            raise click.BadParameter(f"{access_log}: {exc.strerror or exc}", param_hint="--access-log") from None
    if workers > (os.cpu_count() or 1):
        echo_warning(f"--workers {workers} on {os.cpu_count()} cores: each worker loads its own engine (memory, "
                     f"start time) and they share the cores; more than the cores seldom helps")
    shown = f"[{host}]" if ":" in host else host

    def ready() -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            echo_warning(f"listening on {host}: anyone who can reach this machine can use the server")
        click.echo(f"fusionmat serve: http://{shown}:{port}/ (engine {engine}; Ctrl-C stops)", err=True)

    try:
        stopped_by = run(settings, ready=ready)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None
    if stopped_by is not None:
        click.echo("fusionmat serve: stopped", err=True)
        raise KeyboardInterrupt
