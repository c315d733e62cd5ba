"""``fusionmat weights``: fetch and inspect model files."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import handles_library_errors


@click.group()
def weights() -> None:
    """Fetch and check the model files in the weights home.

    The weights home is $FUSIONMAT_HOME, or ~/.fusionmat when it is not set.
    """


@weights.command()
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Use a mediapipe wheel you already have instead of downloading it.")
@handles_library_errors
def fetch(wheel):
    """Download the pinned mediapipe wheel with pip and extract the verified model files.

    \b
    Example:
      fusionmat weights fetch
      FUSIONMAT_HOME=/opt/models fusionmat weights fetch
    """
    from fusionmat.weights import fetch as fetch_files, weights_home

    paths = fetch_files(wheel=wheel)
    click.echo(f"{len(paths)} file(s) verified in {weights_home()}")


@weights.command("list")
def list_():
    """Show every known model file: ok, missing or corrupt (sha256 mismatch).

    \b
    Example:
      fusionmat weights list
    """
    from fusionmat.weights import file_status, known_files, latefusion_candidates, weights_home

    home = weights_home()
    click.echo(f"weights home: {home}")
    bad = 0
    for name, spec in known_files().items():
        status = file_status(name, home)
        bad += status != "ok"
        click.echo(f"  {status:8s} {name:40s} {spec.purpose}")
    if bad:
        click.echo(f"{bad} file(s) not usable; run `fusionmat weights fetch`")
    click.echo("Late Fusion weights (--engine latefusion), looked for in order:")
    click.echo("  --weights FILE")
    for path in latefusion_candidates():
        click.echo(f"  {'found' if path.is_file() else 'absent':8s} {path}")
