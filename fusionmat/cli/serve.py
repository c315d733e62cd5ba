"""``fusionmat serve``: the HTTP API and web page (:mod:`fusionmat.serve.app`) on uvicorn."""
from __future__ import annotations

import click

from fusionmat.cli.common import echo_warning, engine_kwargs, engine_options, parse_preprocess_options
from fusionmat.errors import FusionmatError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 exposes the server to the network.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Inference threads, each with its own engine (the cores are shared among them).")
@click.option("--max-upload-mb", type=click.FloatRange(0.1, 1024), default=25.0, show_default=True,
              help="Larger uploads are answered 413.")
@click.option("--max-queue", type=click.IntRange(1, 10000), default=16, show_default=True,
              help="Requests waiting or running beyond this are answered 503 with Retry-After.")
@click.option("--rotate", default="auto", show_default=True, metavar="auto|none|DEG",
              help="Default of the rotate parameter.")
@click.option("--crop", default="auto", show_default=True, metavar="auto|none|X,Y,W,H",
              help="Default of the crop parameter.")
@click.option("--aspect", default="none", show_default=True, metavar="none|W:H",
              help="Default of the aspect parameter.")
@engine_options
def serve(host, port, workers, max_upload_mb, max_queue, rotate, crop, aspect, engine, engine_opts,
          refine, threads):
    """Serve the API and a web page: drop a photo, get its matte, cut-out and composite.

    \b
    Examples:
      fusionmat serve                                   # http://127.0.0.1:8000/
      curl -F image=@photo.jpg http://127.0.0.1:8000/api/matte -o cutout.png
      curl -F image=@photo.jpg -F output=composite -F bg=white -F format=jpg \\
           http://127.0.0.1:8000/api/matte -o card.jpg
      curl --data-binary @photo.jpg 'http://127.0.0.1:8000/api/matte?output=matte' -o matte.png
    """
    from fusionmat.serve.app import ServeSettings
    from fusionmat.serve.app import serve as run

    parse_preprocess_options(rotate, crop, aspect)  # usage errors before the server starts
    options = engine_kwargs(engine, threads, engine_opts)
    options.pop("threads", None)
    if refine != "auto":
        raise click.BadParameter("the server uses each engine's own refinement", param_hint="--refine")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as exc:
        raise click.ClickException(f"fusionmat serve needs {exc.name}: pip install 'fusionmat[serve]'") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo_warning(f"listening on {host}: anyone who can reach this machine can use the server")
    settings = ServeSettings(engine=engine, engine_options=tuple(sorted(options.items())), workers=workers,
                             threads=threads, max_upload_mb=max_upload_mb, max_queue=max_queue, rotate=rotate,
                             crop=crop, aspect=aspect)
    click.echo(f"fusionmat serve: http://{host}:{port}/ (engine {engine}; Ctrl-C stops)", err=True)
    try:
        run(settings, host=host, port=port)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None
