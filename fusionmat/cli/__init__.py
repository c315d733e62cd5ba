"""The ``fusionmat`` command line. Each command lives in its own module."""
from __future__ import annotations

import click

from fusionmat import __version__
from fusionmat.cli.batch import batch
from fusionmat.cli.compose import compose
from fusionmat.cli.evaluate import evaluate
from fusionmat.cli.export import export
from fusionmat.cli.predict import predict
from fusionmat.cli.weights import weights


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="fusionmat")
def main() -> None:
    """Portrait matting: soft alpha mattes, previews and cut-outs of people in photos.

    \b
    Examples:
      fusionmat weights fetch            # once, after install
      fusionmat predict photo.jpg        # photo_matting.png + photo_concat.jpg
      fusionmat predict *.jpg --out mattes/ --cutout
      fusionmat batch shoot/ --recursive --crop auto
      fusionmat compose photo.jpg --bg beach.jpg
    """


main.add_command(predict)
main.add_command(batch)
main.add_command(compose)
main.add_command(evaluate)
main.add_command(export)
main.add_command(weights)

__all__ = ["main"]
