"""Which files are written for one image, and writing them: matte, preview, cut-out, composite.

Library code: the CLI, the batch runner and the service all write through here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusionmat.compose import Background
from fusionmat.errors import FusionmatError, OutputError


@dataclass(frozen=True)
class OutputPlan:
    """What to write besides the matte and preview.

    cutout : write <stem>_cutout.png (RGBA).
    background : a loaded background for <stem>_composite.<composite_format>, or None.
    """

    cutout: bool = False
    background: "LoadedBackground | None" = None
    composite_format: str = "jpg"
    matte_and_preview: bool = True


@dataclass(frozen=True)
class LoadedBackground:
    """A parsed ``--bg`` with its picture read once (for a file) and how to fit it."""

    spec: Background
    picture: np.ndarray | None
    fit: str = "cover"


def load_background(text: str, fit: str = "cover") -> LoadedBackground:
    """Parse ``--bg`` and read its picture; raises ValueError or ImageReadError with the reason."""
    from fusionmat.compose import parse_background
    from fusionmat.read import read_image

    spec = parse_background(text)
    picture = read_image(spec.path) if spec.path is not None else None
    return LoadedBackground(spec, picture, fit)


def output_paths(image: Path, folder: Path, plan: OutputPlan) -> dict[str, Path]:
    """The files written for ``image`` into ``folder``, by kind."""
    stem = image.stem
    paths = {}
    if plan.matte_and_preview:
        paths = {"matting": folder / f"{stem}_matting.png", "concat": folder / f"{stem}_concat.jpg"}
    if plan.cutout:
        paths["cutout"] = folder / f"{stem}_cutout.png"
    if plan.background is not None:
        paths["composite"] = folder / f"{stem}_composite.{plan.composite_format}"
    return paths


def background_for(rgb: np.ndarray, alpha: np.ndarray, old_background: np.ndarray | None,
                   background: LoadedBackground) -> np.ndarray:
    """The new background, HxWx3, for one photo."""
    from fusionmat.compose import blurred_background, fit_background

    h, w = alpha.shape
    spec = background.spec
    if spec.colour is not None:
        return np.broadcast_to(np.asarray(spec.colour, np.float32), (h, w, 3))
    if spec.blur is not None:
        return blurred_background(old_background, spec.blur)
    return fit_background(background.picture, h, w, background.fit)


def write_outputs(rgb: np.ndarray, alpha: np.ndarray, paths: Mapping[str, Path], plan: OutputPlan, *,
                  stamp: str | None = None) -> None:
    """Write every file in ``paths`` (each atomically); colours are estimated once when needed.

    ``stamp`` (see :mod:`fusionmat.resume`) goes into the matte, which is written last, so a
    matte with a stamp means the image's other outputs were written before it.
    """
    from fusionmat.compose import composite
    from fusionmat.foreground import estimate_layers
    from fusionmat.resume import STAMP_KEY
    from fusionmat.write import cutout_rgba, preview_image, save_image

    if "concat" in paths:
        save_image(paths["concat"], preview_image(rgb, alpha))
    if "cutout" in paths or "composite" in paths:
        fg, bg = estimate_layers(rgb, alpha)
        if "cutout" in paths:
            save_image(paths["cutout"], cutout_rgba(fg, alpha))
        if "composite" in paths:
            save_image(paths["composite"], composite(fg, alpha, background_for(rgb, alpha, bg, plan.background)))
    if "matting" in paths:
        save_image(paths["matting"], alpha, text={STAMP_KEY: stamp} if stamp else None)


@dataclass(frozen=True)
class Outcome:
    """What happened to one image of :func:`write_each`: its outputs, or the error that stopped it."""

    image: Path
    outputs: dict[str, Path]
    error: FusionmatError | None = None


def write_each(images: Iterable[Path], out_dir: Path | None, plan: OutputPlan,
               alpha_for: Callable[[Path, np.ndarray], np.ndarray], *,
               also_inputs: Iterable[Path] = ()) -> Iterator[Outcome]:
    """The per-image loop of ``predict`` and ``compose``, one :class:`Outcome` per image.

    For each image: its outputs (next to it, or in ``out_dir``), refusing to overwrite an
    input (``images`` and ``also_inputs``) or another image's outputs; read it; get its matte
    from ``alpha_for(path, rgb)``; write. A FusionmatError is that image's outcome and the
    loop goes on. Temp files that a killed earlier run left in an output folder are removed.
    """
    from fusionmat.read import read_image
    from fusionmat.write import clean_stale_temps, refuse_inputs

    images = list(images)
    inputs = {p.resolve() for p in (*images, *also_inputs)}
    claimed: dict[Path, Path] = {}
    cleaned: set[Path] = set()
    for image_path in images:
        paths: dict[str, Path] = {}
        try:
            paths = output_paths(image_path, out_dir if out_dir is not None else image_path.parent, plan)
            refuse_inputs(list(paths.values()), inputs)
            clash = next((claimed[p.resolve()] for p in paths.values() if p.resolve() in claimed), None)
            if clash is not None:
                raise OutputError(f"{image_path}: its outputs would overwrite those of {clash}; use --out")
            folder = next(iter(paths.values())).parent
            if folder not in cleaned:
                cleaned.add(folder)
                clean_stale_temps(folder)
            rgb = read_image(image_path, dtype=np.uint8)
            write_outputs(rgb, alpha_for(image_path, rgb), paths, plan)
            claimed.update({p.resolve(): image_path for p in paths.values()})
            yield Outcome(image_path, paths)
        except FusionmatError as exc:
            yield Outcome(image_path, paths, exc)


def cutout(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The people of ``image`` as HxWx4 float32 RGBA: foreground colours estimated (no old
    background in the hair), ``alpha`` as the fourth channel."""
    from fusionmat.foreground import estimate_layers
    from fusionmat.write import cutout_rgba

    fg, _ = estimate_layers(image, alpha)
    return cutout_rgba(fg, alpha)


def composite_onto(image: np.ndarray, alpha: np.ndarray, background: "str | LoadedBackground",
                   fit: str = "cover") -> np.ndarray:
    """The people of ``image`` on a new background (HxWx3 float32 in [0, 1]).

    ``background`` is what ``--bg`` takes ('#RRGGBB', 'blur[:SIGMA]', a picture's path) or a
    :class:`LoadedBackground`; ``fit`` places a picture (cover, contain, stretch).
    """
    from fusionmat.compose import composite
    from fusionmat.foreground import estimate_layers

    loaded = load_background(background, fit) if isinstance(background, str) else background
    fg, bg = estimate_layers(image, alpha)
    return composite(fg, alpha, background_for(image, alpha, bg, loaded))
