"""An evaluation report as one self-contained HTML page: the per-image table (sortable by each
metric) and, for each image, the photo, the prediction, the truth and an error map, worst first.

Every picture is embedded (a web-sized PNG or JPEG as a data URI), so ``index.html`` alone is
the report: it can be mailed or attached to a paper's supplement, and loads nothing from outside.
"""
from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import numpy as np

from fusionmat.evaluate.metrics import METRICS

THUMB_SIDE = 360
"""Long side of each picture in the report, in pixels."""
FALSE_FOREGROUND = (220, 40, 40)
"""Error-map colour where the prediction is above the truth (background taken for subject)."""
MISSED_FOREGROUND = (40, 90, 230)
"""Error-map colour where the prediction is below the truth (subject taken for background)."""


def error_map(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The signed difference as RGB uint8: white where right, red where ``pred`` is too high,
    blue where it is too low; the colour's strength is the size of the error."""
    diff = np.clip(np.asarray(pred, np.float32) - np.asarray(truth, np.float32), -1.0, 1.0)
    out = np.full(diff.shape + (3,), 255.0, np.float32)
    for colour, amount in ((FALSE_FOREGROUND, np.clip(diff, 0, 1)), (MISSED_FOREGROUND, np.clip(-diff, 0, 1))):
        for channel in range(3):
            out[..., channel] -= amount * (255.0 - colour[channel])
    return (out + 0.5).astype(np.uint8)


def data_uri(array: np.ndarray, fmt: str = "PNG", side: int = THUMB_SIDE) -> str:
    """A web-sized copy of an image array (HxW or HxWx3, float [0, 1] or uint8) as a data URI."""
    from PIL import Image

    from fusionmat.io.write import to_uint8

    picture = Image.fromarray(to_uint8(np.asarray(array)))
    picture.thumbnail((side, side), Image.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **({"quality": 85} if fmt == "JPEG" else {"optimize": True}))
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def find_photo(images_dir: Path | None, stem: str) -> Path | None:
    """The photo ``stem.*`` in ``images_dir`` (any image suffix), if given and present."""
    if images_dir is None:
        return None
    for candidate in sorted(images_dir.glob(f"{stem}.*")):
        if candidate.is_file():
            return candidate
    return None


SCRIPT = """
for (const head of document.querySelectorAll('th[data-key]')) {
  head.addEventListener('click', () => {
    const body = document.querySelector('#scores tbody');
    const key = head.dataset.key, rows = Array.from(body.rows);
    const up = head.dataset.order !== 'asc';
    head.dataset.order = up ? 'asc' : 'desc';
    rows.sort((a, b) => {
      const x = a.dataset[key], y = b.dataset[key];
      const nx = parseFloat(x), ny = parseFloat(y);
      const c = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
      return up ? c : -c;
    });
    rows.forEach(r => body.appendChild(r));
  });
}
"""

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
table { border-collapse: collapse; margin-bottom: 2rem; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th[data-key] { cursor: pointer; user-select: none; }
th[data-key]:hover { background: #eef; }
tr.mean td { font-weight: 600; border-top: 2px solid #999; }
section.image { margin: 1.5rem 0; border-top: 1px solid #ccc; padding-top: .8rem; }
.pictures { display: flex; gap: .8rem; flex-wrap: wrap; }
figure { margin: 0; }
figure img { max-width: 360px; height: auto; border: 1px solid #ccc; display: block; }
figcaption { font-size: .85rem; color: #555; }
.legend span { display: inline-block; width: 1em; height: 1em; vertical-align: middle; margin: 0 .3em; }
.problem { color: #b00; }
"""


def write_report(rows, pred_dir: Path, gt_dir: Path, out_dir: str | os.PathLike, *, images_dir: Path | None = None,
                 trimap_dir: Path | None = None, pred_suffixes: tuple[str, ...] = ("_matting.png", ".png"),
                 gt_suffix: str = ".png", on_row=None) -> Path:
    """Write ``out_dir/index.html`` for the rows of :func:`fusionmat.evaluate.scores.evaluate_folders`.

    The pictures are read again (prediction, truth and, with ``images_dir``, the photo of the
    same stem); ``on_row`` is called after each image (for a progress bar). Returns the page's path.
    """
    from fusionmat.evaluate.scores import find_prediction, means
    from fusionmat.io.read import read_image, read_matte
    from fusionmat.io.write import atomic_write

    scored = sorted((r for r in rows if r.problem is None), key=lambda r: -r.scores["sad"])
    missing = [r for r in rows if r.problem is not None]
    avg = means(rows)
    e = html.escape
    heads = "".join(f'<th data-key="{m}" title="sort">{m.upper()}</th>' for m in METRICS)
    lines = [f'<tr data-name="{e(r.name)}" ' + " ".join(f'data-{m}="{r.scores[m]:.6f}"' for m in METRICS)
             + f'><td><a href="#img-{e(r.name)}">{e(r.name)}</a></td>'
             + "".join(f"<td>{r.scores[m]:.4f}</td>" for m in METRICS) + "</tr>" for r in scored]
    mean_row = (f'<tr class="mean"><td>mean ({len(scored)})</td>' + "".join(f"<td>{avg[m]:.4f}</td>" for m in METRICS)
                + "</tr>") if avg else ""
    sections = []
    for row in scored:
        stem = row.name
        pred = read_matte(find_prediction(pred_dir, stem, pred_suffixes))
        truth = read_matte(gt_dir / f"{stem}{gt_suffix}")
        figures = []
        photo = find_photo(images_dir, stem)
        if photo is not None:
            try:
                figures.append(("photo", data_uri(read_image(photo, dtype=np.uint8), "JPEG")))
            except Exception:  # noqa: BLE001 - an unreadable photo only loses its picture
                pass
        figures += [("prediction", data_uri(pred)), ("truth", data_uri(truth)),
                    ("error: red too high, blue too low", data_uri(error_map(pred, truth)))]
        scores = ", ".join(f"{m.upper()} {row.scores[m]:.4f}" for m in METRICS)
        pictures = "".join(f'<figure><img src="{uri}" alt="{e(label)} of {e(stem)}"><figcaption>{e(label)}'
                           "</figcaption></figure>" for label, uri in figures)
        sections.append(f'<section class="image" id="img-{e(stem)}"><h3>{e(stem)}</h3><p>{scores}</p>'
                        f'<div class="pictures">{pictures}</div></section>')
        if on_row is not None:
            on_row(row)
    problems = "".join(f'<li class="problem">{e(r.name)}: {e(r.problem)}</li>' for r in missing)
    legend = (f'<p class="legend">Error maps: <span style="background: rgb{FALSE_FOREGROUND}"></span>prediction '
              f'too high (background taken for subject), <span style="background: rgb{MISSED_FOREGROUND}"></span>'
              "too low (subject missed); white is right. Images worst first (by SAD); click a column to sort.</p>")
    scope = f" (unknown region of the trimaps in {e(str(trimap_dir))})" if trimap_dir is not None else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fusionmat evaluation: {e(str(pred_dir))}</title>
<style>{STYLE}</style></head><body>
<h1>Evaluation of {e(str(pred_dir))}</h1>
<p>Against {e(str(gt_dir))}{scope}: {len(scored)} image(s) scored, {len(missing)} not.
SAD, Grad and Conn are divided by 1000 (Rhemann et al. 2009).</p>
{legend}
<table id="scores"><thead><tr><th data-key="name">image</th>{heads}</tr></thead>
<tbody>{''.join(lines)}</tbody><tfoot>{mean_row}</tfoot></table>
{'<h2>Not scored</h2><ul>' + problems + '</ul>' if problems else ''}
{''.join(sections)}
<script>{SCRIPT}</script>
</body></html>
"""
    target = Path(out_dir) / "index.html"
    atomic_write(target, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))
    return target
