"""``fusionmat evaluate``: SAD, MSE, Grad and Conn of a folder of mattes against ground truth."""
from __future__ import annotations

from pathlib import Path

import click

FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)


@click.command()
@click.argument("pred_dir", type=FOLDER)
@click.argument("gt_dir", type=FOLDER)
@click.option("--trimap", "trimap_dir", type=FOLDER, default=None,
              help="Trimaps (same stems): score only their unknown region, as the DIM benchmark does.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--pred-suffix", "pred_suffixes", multiple=True, default=("_matting.png", ".png"), show_default=True,
              help="What follows the ground truth's stem in a prediction's name; repeat to try several in order.")
@click.option("--gt-suffix", default=".png", show_default=True, help="Ground-truth file names end with this.")
@click.option("--trimap-suffix", default=".png", show_default=True, help="Trimap file names end with this.")
def evaluate(pred_dir, gt_dir, trimap_dir, fmt, pred_suffixes, gt_suffix, trimap_suffix):
    """Score the mattes in PRED_DIR against those in GT_DIR.

    Files are paired by stem: GT_DIR/<stem>.png with PRED_DIR/<stem>_matting.png
    (what predict and batch write) or PRED_DIR/<stem>.png. Prints per-image and
    mean SAD, MSE, Grad and Conn (definitions: Rhemann et al. 2009; SAD, Grad and
    Conn divided by 1000). A missing prediction or one of the wrong size is named
    on stderr, left out of the means, and makes the exit status 1.

    \b
    Examples:
      fusionmat evaluate mattes/ bench/alpha/
      fusionmat evaluate mattes/ dim/alpha/ --trimap dim/trimaps/ --format csv > scores.csv
    """
    from fusionmat.evaluate import evaluate_folders, format_rows

    rows = evaluate_folders(pred_dir, gt_dir, trimap_dir=trimap_dir, pred_suffixes=tuple(pred_suffixes),
                            gt_suffix=gt_suffix, trimap_suffix=trimap_suffix)
    if not rows:
        raise click.ClickException(f"{gt_dir}: no ground-truth files ending in {gt_suffix}")
    click.echo(format_rows(rows, fmt))
    missing = [r for r in rows if r.problem is not None]
    for r in missing:
        click.secho(f"missing: {r.name}: {r.problem}", fg="yellow", err=True)
    if missing:
        raise click.ClickException(f"{len(missing)} of {len(rows)} image(s) could not be scored")
