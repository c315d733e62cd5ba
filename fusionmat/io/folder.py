"""Finding the images in a folder (by content, skipping fusionmat's own outputs)."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif",
                            ".jfif", ".heic", ".ppm", ".pgm", ".tga"})
"""Suffixes that promise an image: such a file that does not open is reported, not ignored."""


def looks_like_image(path: Path) -> bool:
    """True when Pillow recognises the file's header (the content decides, not the suffix)."""
    from fusionmat.io.storage import opened

    try:
        with opened(path) as source, Image.open(source):
            return True
    except Exception:  # noqa: BLE001 - any failure to open means "not recognised"
        return False


def walk_files(root: Path, *, recursive: bool, exclude: Path | None = None) -> Iterable[Path]:
    """Regular files under ``root`` in a stable order, skipping hidden ones and ``exclude``'s tree."""
    from fusionmat.io.storage import is_remote

    if is_remote(root):
        yield from _walk_remote(root, recursive=recursive, exclude=exclude)
        return
    skip = exclude.resolve() if exclude is not None else None
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (skip is None or (Path(folder) / d).resolve() != skip))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name
        if not recursive:
            return


def _walk_remote(root, *, recursive: bool, exclude=None) -> Iterable:
    """:func:`walk_files` on an object store (fsspec): objects under ``root``, by name."""
    skip = str(exclude).rstrip("/") + "/" if exclude is not None else None
    base = str(root).rstrip("/") + "/"
    found = root.rglob("*") if recursive else root.iterdir()
    for path in sorted(found, key=str):
        rel = str(path)[len(base):] if str(path).startswith(base) else path.name
        if any(part.startswith(".") for part in rel.split("/")) or (skip and str(path).startswith(skip)):
            continue
        if path.is_file():
            yield path


def find_images(root: Path, *, recursive: bool, exclude: Path | None = None) -> tuple[list[Path], int]:
    """Files under ``root`` to process, and how many other files were ignored.

    A file is taken when its content is an image, whatever its name, and also when its name
    says image (so a corrupt ``photo.jpg`` is reported); unreadable files are taken so the
    run reports them. Other files (notes, sidecars) are ignored, and so is anything that is not
    a regular file (a FIFO named photo.jpg would block the run forever), and fusionmat's own
    outputs: beside a photo of the folder (:func:`own_outputs`), or anywhere when they carry its
    stamp (:func:`looks_like_output`), so a recursive run never mattes an earlier run's outputs.
    """
    taken, ignored = [], 0
    for path in walk_files(root, recursive=recursive, exclude=exclude):
        if not path.is_file():  # a FIFO, socket, device or broken link (a link to a file is taken)
            ignored += 1
        elif path.suffix.lower() in IMAGE_SUFFIXES or not os.access(path, os.R_OK) or looks_like_image(path):
            taken.append(path)
        else:
            ignored += 1
    outputs = own_outputs(taken)  # mattes and previews that `predict` wrote next to the photos
    outputs |= {p for p in taken if p not in outputs and looks_like_output(p)}  # and those of runs elsewhere
    return [p for p in taken if p not in outputs], ignored + len(outputs)


STEP_NAME = re.compile(r".+_\d+_(aspect|rotate|crop)")
"""The stem of an image ``--save-steps`` wrote: ``<stem>_<n>_<step>``."""


def looks_like_output(path) -> bool:
    """True for a file named as fusionmat names its outputs that carries fusionmat's stamp (read
    from its header): an earlier run's matte, preview, cut-out or saved step, wherever it is."""
    from fusionmat.outputs.resume import is_output

    stem = path.stem
    named = stem.rpartition("_")[2] in OUTPUT_KINDS or STEP_NAME.fullmatch(stem) is not None
    return named and is_output(path)


OUTPUT_KINDS = ("matting", "concat", "cutout", "composite")
"""The suffixes fusionmat adds to a photo's stem for its outputs (``<stem>_matting.png`` ...)."""


def own_outputs(paths: list[Path]) -> set[Path]:
    """The files among ``paths`` that are fusionmat's outputs for another of them: ``x_matting.png``
    (or ``_concat``, ``_cutout``, ``_composite``) beside a photo ``x.*`` in the same folder."""
    stems = {(p.parent, p.stem) for p in paths}
    found = set()
    for p in paths:
        base, _, kind = p.stem.rpartition("_")
        if kind in OUTPUT_KINDS and base and (p.parent, base) in stems:
            found.add(p)
    return found
