"""Scoring predicted mattes against ground truth: pairing files, reading them, formatting results."""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fusionmat.errors import ImageReadError
from fusionmat.evaluate.metrics import METRICS, all_metrics
from fusionmat.io.read import not_a_file, read_matte  # noqa: F401 - the one matte reader, also fusionmat.evaluate.scores.read_matte

PRED_SUFFIXES = ("_matting.png", ".png")
"""Tried in order after a ground-truth file's stem to find its prediction."""


@dataclass
class Row:
    """One ground-truth file's result: scores, or why it could not be scored."""

    name: str
    scores: dict[str, float] = field(default_factory=dict)
    problem: str | None = None
    missing: bool = False
    """True when the problem is an absent prediction or trimap (else: there, but not scorable)."""

    @property
    def label(self) -> str:
        """How the row's problem is shown: 'missing' or 'not scored'."""
        return "missing" if self.missing else "not scored"


def unknown_region(trimap: np.ndarray) -> np.ndarray:
    """The trimap's unknown pixels: neither pure background (0) nor pure foreground (1)."""
    return (trimap > 0.0) & (trimap < 1.0)


def find_prediction(pred_dir: Path, stem: str, suffixes: tuple[str, ...]) -> Path | None:
    """The first ``pred_dir/<stem><suffix>`` that exists (of any kind: see :func:`not_a_file`)."""
    return next((pred_dir / f"{stem}{s}" for s in suffixes if (pred_dir / f"{stem}{s}").exists()), None)


def evaluate_pair(pred: np.ndarray, gt: np.ndarray, trimap: np.ndarray | None = None) -> dict[str, float]:
    """SAD, MSE, Grad and Conn of one matte; over the trimap's unknown region when given."""
    mask = unknown_region(trimap) if trimap is not None else None
    return all_metrics(pred, gt, mask)


def evaluate_folders(pred_dir: Path, gt_dir: Path, *, trimap_dir: Path | None = None,
                     pred_suffixes: tuple[str, ...] = PRED_SUFFIXES, gt_suffix: str = ".png",
                     trimap_suffix: str = ".png", on_row=None) -> list[Row]:
    """Score every ``GT_DIR/*<gt_suffix>`` against its prediction (and trimap), in name order;
    ``on_row(row, total)`` is called after each (for a progress bar)."""
    rows = []
    truths = sorted(gt_dir.glob(f"*{gt_suffix}"))
    for gt_path in truths:
        if on_row is not None and rows:
            on_row(rows[-1], len(truths))
        stem = gt_path.name[: -len(gt_suffix)]
        row = Row(stem)
        rows.append(row)
        pred_path = find_prediction(pred_dir, stem, pred_suffixes)
        if pred_path is None:
            row.problem, row.missing = f"no prediction {stem}{{{','.join(pred_suffixes)}}} in {pred_dir}", True
            continue
        trimap_path = trimap_dir / f"{stem}{trimap_suffix}" if trimap_dir is not None else None
        if trimap_path is not None and not trimap_path.exists():
            row.problem, row.missing = f"no trimap {trimap_path}", True
            continue
        files = {"ground truth": gt_path, "prediction": pred_path, "trimap": trimap_path}
        row.problem = next(filter(None, (not_a_file(p) for p in files.values() if p is not None)), None)
        if row.problem is not None:
            continue
        try:
            mattes = {what: read_matte(p) for what, p in files.items() if p is not None}
        except ImageReadError as exc:
            row.problem = f"cannot read {exc}"
            continue
        gt = mattes["ground truth"]
        wrong = next((what for what, m in mattes.items() if m.shape != gt.shape), None)
        if wrong is not None:
            h, w = mattes[wrong].shape
            row.problem = f"{wrong} {files[wrong].name} is {w}x{h}, ground truth is {gt.shape[1]}x{gt.shape[0]}"
            continue
        pred, trimap = mattes["prediction"], mattes.get("trimap")
        row.scores = evaluate_pair(pred, gt, trimap)
    if on_row is not None and rows:
        on_row(rows[-1], len(truths))
    return rows


def means(rows: list[Row]) -> dict[str, float]:
    """Mean of each metric over the scored rows (empty when none were scored)."""
    scored = [r.scores for r in rows if r.problem is None]
    return {m: float(np.mean([s[m] for s in scored])) for m in METRICS} if scored else {}


def format_rows(rows: list[Row], fmt: str) -> str:
    """The rows and their means as 'table', 'json' or 'csv'."""
    avg = means(rows)
    unscored = [r for r in rows if r.problem is not None]
    if fmt == "json":
        return json.dumps({"images": [{"name": r.name, **r.scores} for r in rows if r.problem is None],
                           "mean": avg, "scored": len(rows) - len(unscored),
                           "missing": [{"name": r.name, "reason": r.problem} for r in unscored if r.missing],
                           "not_scored": [{"name": r.name, "reason": r.problem} for r in unscored if not r.missing]},
                          indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["name", *METRICS, "problem"])
        for r in rows:
            writer.writerow([r.name, *(f"{r.scores[m]:.6f}" if r.scores else "" for m in METRICS), r.problem or ""])
        writer.writerow(["MEAN", *(f"{avg[m]:.6f}" if avg else "" for m in METRICS), ""])
        return out.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"format must be table, json or csv, got {fmt!r}")
    width = max([len(r.name) for r in rows] + [12])
    lines = [f"{'image':{width}s} " + " ".join(f"{m.upper():>9s}" for m in METRICS)]
    for r in rows:
        cells = " ".join(f"{r.scores[m]:9.4f}" for m in METRICS) if r.problem is None else f"{r.label}: {r.problem}"
        lines.append(f"{r.name:{width}s} {cells}")
    label = f"MEAN ({len(rows) - len(unscored)})"
    lines.append(f"{label:{width}s} " + (" ".join(f"{avg[m]:9.4f}" for m in METRICS) if avg else "nothing scored"))
    return "\n".join(lines)
