"""``fusionmat evaluate``: SAD, MSE, Grad and Conn of a folder of mattes against ground truth."""
from __future__ import annotations

from pathlib import Path

import click

from fusionmat.cli.common import console, output_options

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
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write DIR/index.html: the sortable table and, worst first, each image's prediction, "
                   "truth and error map (one self-contained page).")
@click.option("--images", "images_dir", type=FOLDER, default=None,
              help="With --report: the photos (same stems) to show beside the mattes.")
@output_options
def evaluate(pred_dir, gt_dir, trimap_dir, fmt, pred_suffixes, gt_suffix, trimap_suffix, report_dir, images_dir):
    """Score the mattes in PRED_DIR against those in GT_DIR.

    Files are paired by stem: GT_DIR/<stem>.png with PRED_DIR/<stem>_matting.png
    (what predict and batch write) or PRED_DIR/<stem>.png. Prints per-image and
    mean SAD, MSE, Grad and Conn (definitions: Rhemann et al. 2009; SAD, Grad and
    Conn divided by 1000). A missing prediction, one of another size than its
    ground truth, or a file that is not a regular file (a FIFO) is named on
    stderr, left out of the means, and makes the exit status 1.

    \b
    Examples:
      fusionmat evaluate mattes/ bench/alpha/
      fusionmat evaluate mattes/ dim/alpha/ --trimap dim/trimaps/ --format csv > scores.csv
      fusionmat evaluate mattes/ bench/alpha/ --report report/ --images bench/image/
    """
    from fusionmat.errors import FusionmatError
    from fusionmat.evaluate.scores import evaluate_folders, format_rows

    out = console()
    if images_dir is not None and report_dir is None:
        raise click.UsageError("--images goes with --report")
    with out.bar(0, min_items=2) as bar:
        def scored(row, total):
            bar.total = total
            bar.update(1)

        rows = evaluate_folders(pred_dir, gt_dir, trimap_dir=trimap_dir, pred_suffixes=tuple(pred_suffixes),
                                gt_suffix=gt_suffix, trimap_suffix=trimap_suffix, on_row=scored)
    if not rows:
        raise click.ClickException(f"{gt_dir}: no ground-truth files ending in {gt_suffix}")
    click.echo(format_rows(rows, fmt))
    if report_dir is not None:
        from fusionmat.evaluate.report import write_report

        with out.bar(sum(r.problem is None for r in rows), min_items=2) as bar:
            try:
                page = write_report(rows, pred_dir, gt_dir, report_dir, images_dir=images_dir, trimap_dir=trimap_dir,
                                    pred_suffixes=tuple(pred_suffixes), gt_suffix=gt_suffix,
                                    on_row=lambda row: bar.update(1))
            except FusionmatError as exc:
                raise click.ClickException(str(exc)) from None
        out.info(f"report: {page}")
    unscored = [r for r in rows if r.problem is not None]
    for r in unscored:
        click.secho(f"{r.label}: {r.name}: {r.problem}", fg="yellow", err=True)
    if unscored:
        raise click.ClickException(f"{len(unscored)} of {len(rows)} image(s) could not be scored")
