"""Picture gallery: for each photo, input | matte | cut-out on a checkerboard | composite, one row
per engine, with a zoomed crop where the matte is softest (hair), as small web images.

Usage:
    python benchmarks/gallery.py                       # docs/gallery/ from the astronaut (public domain)
    python benchmarks/gallery.py --samples ../shared/samples/test_images --out build/gallery

The committed gallery (docs/gallery/, linked from the README) uses only pictures whose licence
allows it: scikit-image's astronaut (NASA, public domain), also tilted by 30 degrees and pasted
small into scikit-image's chelsea (CC0), which show the rotate and crop steps at work. The released project's
test photos
in ../shared/samples are press and stock photos whose licences are not stated, so they are
rendered only on request, into a folder that is not committed; there the released Late Fusion
matte (``<stem>_matting.png`` beside each photo) is added as a reference row.
Writes ``index.md`` (the rows as Markdown) beside the pictures.
"""
from __future__ import annotations

from pathlib import Path

import click
import numpy as np
from PIL import Image

ENGINES = ("modnet", "selfie")
ROW_HEIGHT = 220
"""Height of each picture in a row, in pixels."""
ZOOM = 160
"""Side of the zoomed crop, in pixels of the photo, before it is scaled to ROW_HEIGHT."""


def checkerboard(height: int, width: int, cell: int = 12) -> np.ndarray:
    ys, xs = np.indices((height, width)) // cell
    board = np.where((ys + xs) % 2 == 0, 0.8, 0.6).astype(np.float32)
    return np.repeat(board[..., None], 3, axis=2)


def softest_window(alpha: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the side x side window with the most soft matte pixels (hair)."""
    import cv2

    soft = ((alpha > 0.05) & (alpha < 0.95)).astype(np.float32)
    side = min(side, *alpha.shape)
    counts = cv2.boxFilter(soft, -1, (side, side), normalize=False, borderType=cv2.BORDER_CONSTANT)
    y, x = np.unravel_index(np.argmax(counts), counts.shape)
    return int(np.clip(y - side // 2, 0, alpha.shape[0] - side)), int(np.clip(x - side // 2, 0, alpha.shape[1] - side))


def row_image(rgb: np.ndarray, alpha: np.ndarray, colour=(0.15, 0.45, 0.75)) -> Image.Image:
    """input | matte | cut-out on a checkerboard | composite | zoomed cut-out, one strip."""
    from fusionmat.outputs.plan import cutout

    rgba = cutout(rgb, alpha)
    a = rgba[..., 3:4]
    on_board = a * rgba[..., :3] + (1 - a) * checkerboard(*alpha.shape)
    composite = a * rgba[..., :3] + (1 - a) * np.asarray(colour, np.float32)
    y, x = softest_window(alpha, ZOOM)
    side = min(ZOOM, *alpha.shape)
    zoom = on_board[y:y + side, x:x + side]
    panels = [rgb.astype(np.float32) / 255.0, np.repeat(alpha[..., None], 3, axis=2), on_board, composite, zoom]
    images = []
    for panel in panels:
        picture = Image.fromarray((np.clip(panel, 0, 1) * 255 + 0.5).astype(np.uint8))
        width = round(picture.width * ROW_HEIGHT / picture.height)
        images.append(picture.resize((width, ROW_HEIGHT), Image.LANCZOS if panel is not zoom else Image.NEAREST))
    strip = Image.new("RGB", (sum(i.width for i in images) + 6 * (len(images) - 1), ROW_HEIGHT), "white")
    left = 0
    for picture in images:
        strip.paste(picture, (left, 0))
        left += picture.width + 6
    return strip


def photos(samples: Path | None) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(name, photo, released matte or None) to show."""
    from skimage import data

    from fusionmat.io.read import read_image, read_matte
    from fusionmat.matting.resize import resize_to

    if samples is None:
        astronaut = data.astronaut()
        tilted = np.asarray(Image.fromarray(astronaut).rotate(-30, resample=Image.BICUBIC, expand=True,
                                                              fillcolor=(200, 200, 200)))
        scene = np.asarray(Image.fromarray(data.chelsea()).resize((900, 600)))
        small = scene.copy()
        small[300:556, 560:816] = np.asarray(Image.fromarray(astronaut).resize((256, 256)))
        return [("astronaut", astronaut, None), ("astronaut_tilted", tilted, None),
                ("astronaut_small", small, None)]
    found = []
    for photo in sorted(samples.glob("*.jpg")):
        if photo.stem.endswith(("_concat", "_matting")):
            continue
        released = photo.with_name(photo.stem + "_matting.png")
        rgb = read_image(photo, dtype=np.uint8)
        reference = None
        if released.is_file():
            reference = np.clip(resize_to(read_matte(released), *rgb.shape[:2]), 0, 1)
        found.append((photo.stem, rgb, reference))
    return found


@click.command()
@click.option("--samples", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Photos (X.jpg, with the released X_matting.png) instead of the astronaut.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("docs/gallery"),
              show_default=True)
def main(samples, out):
    import fusionmat

    if samples is not None and out.resolve() == Path("docs/gallery").resolve():
        raise click.UsageError("sample photos are not for the committed gallery; give --out build/gallery")
    out.mkdir(parents=True, exist_ok=True)
    engines = {name: fusionmat.load_engine(name) for name in ENGINES}
    lines = ["| photo | engine | input, matte, cut-out, composite, zoom where the matte is softest |",
             "| --- | --- | --- |"]
    total = 0
    for name, rgb, reference in photos(samples):
        rows = [(engine, fusionmat.matte(rgb, engine=loaded)) for engine, loaded in engines.items()]
        if reference is not None:
            rows.append(("latefusion (released)", reference))
        for engine, alpha in rows:
            path = out / f"{name}_{engine.split()[0]}.jpg"
            row_image(rgb, alpha).save(path, quality=80, optimize=True)
            total += path.stat().st_size
            lines.append(f"| {name} | {engine} | ![{name}, {engine}]({path.name}) |")
    (out / "index.md").write_text("# Gallery\n\n" + "\n".join(lines) + "\n")
    click.echo(f"{out}: {len(lines) - 2} rows, {total / 1e6:.2f} MB of pictures")


if __name__ == "__main__":
    main()
