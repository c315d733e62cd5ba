"""The ``fusionmat`` command line. Each command lives in its own module."""
from __future__ import annotations

import os

# Before numpy loads OpenBLAS: the commands run images in parallel threads, and BLAS threads
# inside pymatting's solver only spin (docs/benchmarks.md).
# An explicit OPENBLAS_NUM_THREADS in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import warnings  # noqa: E402

import click  # noqa: E402
from PIL import Image  # noqa: E402

# Files over Pillow's pixel limit are refused with one line naming them (fusionmat.io.read.refuse_bombs);
# Pillow's own warning for them would only add a second, less clear line.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

from fusionmat import __version__  # noqa: E402

# Modules, not their commands, are imported: fusionmat.cli.batch stays the module (its command
# is fusionmat.cli.batch.batch), so no command shadows the module it lives in.
from fusionmat.cli import batch, compose, engines, evaluate, export, predict, serve, video, weights  # noqa: E402


class Commands(click.Group):
    """The command group: SIGTERM is taken as Ctrl-C, and Ctrl-C ends any command with exit 130
    and one line (a batch first finishes what it was writing and prints its summary)."""

    def invoke(self, ctx: click.Context):
        import signal
        import threading

        def interrupt(signum, frame):
            raise KeyboardInterrupt

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, interrupt)
        warnings.showwarning = show_warning
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library's warning (Pillow's 'Corrupt EXIF data') as one line naming the image it came from."""
    from fusionmat.cli.common import echo_warning
    from fusionmat.run.process import current_image

    image = current_image()
    echo_warning(f"{image}: {message}" if image is not None else str(message))


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="fusionmat")
def main() -> None:
    """Portrait matting: soft alpha mattes, previews, cut-outs and composites of people in
    photos and videos.

    \b
    Examples:
      fusionmat weights fetch            # once, after install
      fusionmat predict photo.jpg        # photo_matting.png + photo_concat.jpg
      fusionmat predict photo.jpg -o cutout.png
      fusionmat predict *.jpg -o mattes/ --cutout --bg white
      fusionmat batch shoot/ --recursive --crop auto
      fusionmat compose photo.jpg --bg beach.jpg
      fusionmat video talk.mp4 --alpha webm
      fusionmat serve                    # http://127.0.0.1:8000/

    The manual: docs/ in the repository (README.md links each page; `mkdocs serve` shows it as a site).
    """


for _module in (predict, batch, compose, video, evaluate, export, serve, engines, weights):
    main.add_command(getattr(_module, _module.__name__.rpartition(".")[2]))

__all__ = ["main"]
