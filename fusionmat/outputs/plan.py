"""Which files are written for one image, and writing them: matte, preview, cut-out, composite.

Library code: every surface writes through :func:`fusionmat.run.process.process`, which calls here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusionmat.matting.mask import MaskSettings
from fusionmat.outputs.compose import Background

COMPOSITE_FORMATS = ("auto", "jpg", "png", "webp")
"""``--format`` of composites: auto is jpg, or png when the background is translucent."""


@dataclass(frozen=True)
class OutputPlan:
    """What to write besides the matte and preview.

    cutout : write <stem>_cutout.png (RGBA).
    background : a loaded background for <stem>_composite.<format>, or None.
    composite_format : one of :data:`COMPOSITE_FORMATS`; ValueError for jpg with a translucent
        background (JPEG has no alpha).
    quality : JPEG / WebP quality of composites, 1-100.
    matte_and_preview : write <stem>_matting.png and <stem>_concat.jpg.
    only : write only these outputs (``batch --only``): names of :data:`ONE_FILE_KINDS`
        ('matte', 'preview', 'cutout', 'composite'); None writes what the fields above say.
    mask : mask controls and trimming applied to every output (:mod:`fusionmat.matting.mask`).
    """

    cutout: bool = False
    background: "LoadedBackground | None" = None
    composite_format: str = "auto"
    matte_and_preview: bool = True
    quality: int = 95
    only: frozenset[str] | None = None
    mask: "MaskSettings | None" = None

    def __post_init__(self) -> None:
        if self.only is not None:
            unknown = sorted(set(self.only) - set(ONE_FILE_KINDS))
            if unknown or not self.only:
                raise ValueError(f"only takes {', '.join(ONE_FILE_KINDS)} (comma-separated), got "
                                 f"{', '.join(unknown) or 'nothing'}")
            if "composite" in self.only and self.background is None:
                raise ValueError("composite needs a background (--bg)")
        if self.composite_format not in COMPOSITE_FORMATS:
            raise ValueError(f"format must be one of {', '.join(COMPOSITE_FORMATS)}, got {self.composite_format!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be 1-100, got {self.quality}")
        if self.composite_format == "jpg" and self.translucent:
            raise ValueError("a transparent background needs --format png or webp (JPEG has no alpha)")

    @property
    def translucent(self) -> bool:
        return self.background is not None and self.background.spec.translucent

    @property
    def composite_suffix(self) -> str:
        """'jpg', 'png' or 'webp': the composite's file type."""
        if self.composite_format != "auto":
            return self.composite_format
        return "png" if self.translucent else "jpg"


@dataclass(frozen=True)
class LoadedBackground:
    """A parsed ``--bg`` with its picture read once (for a file) and how to fit it; ``moving``: a
    background video's frames (``next()`` gives the next one), which replace the picture frame by frame."""

    spec: Background
    picture: np.ndarray | None
    fit: str = "cover"
    moving: object = None


def load_background(text: str, fit: str = "cover") -> LoadedBackground:
    """Parse ``--bg`` and read its picture; raises ValueError or ImageReadError with the reason."""
    from fusionmat.io.read import read_image
    from fusionmat.outputs.compose import parse_background

    if not text.strip():
        raise ValueError("an empty background; give a colour (white, #ffffff), transparent, blur[:SIGMA] or a picture")
    spec = parse_background(text)
    if spec.path is not None and not spec.path.exists() and not spec.path.suffix:
        raise ValueError(f"{text}: no such file, and not a colour; {colour_hint(text)}")
    picture = read_image(spec.path) if spec.path is not None else None
    return LoadedBackground(spec, picture, fit)


def colour_hint(text: str) -> str:
    """What --bg takes, with the closest colour names to a misspelt one ('whitee': white)."""
    import difflib

    from PIL import ImageColor

    near = difflib.get_close_matches(text.lower(), list(ImageColor.colormap), n=3)
    guess = f"did you mean {' or '.join(near)}? " if near else ""
    return guess + "a background is a colour (white, #ffffff, #ffffff80, transparent), blur[:SIGMA] or a picture"


def output_paths(image: Path, folder: Path, plan: OutputPlan) -> dict[str, Path]:
    """The files written for ``image`` into ``folder``, by kind."""
    stem = image.stem
    every = {"matting": folder / f"{stem}_matting.png", "concat": folder / f"{stem}_concat.jpg",
             "cutout": folder / f"{stem}_cutout.png"}
    if plan.background is not None:
        every["composite"] = folder / f"{stem}_composite.{plan.composite_suffix}"
    if plan.only is not None:
        return {kind: path for kind, path in every.items() if OUTPUT_KIND[kind] in plan.only}
    wanted = {"matting": plan.matte_and_preview, "concat": plan.matte_and_preview, "cutout": plan.cutout,
              "composite": True}
    return {kind: path for kind, path in every.items() if wanted[kind]}


def background_for(rgb: np.ndarray, alpha: np.ndarray, old_background: np.ndarray | None,
                   background: LoadedBackground) -> np.ndarray:
    """The new background, HxWx3, for one photo."""
    from fusionmat.outputs.compose import blurred_background, fit_background

    h, w = alpha.shape
    spec = background.spec
    if spec.colour is not None:
        return np.broadcast_to(np.asarray(spec.colour, np.float32), (h, w, 3))
    if spec.blur is not None:
        return blurred_background(old_background, spec.blur)
    return fit_background(background.picture, h, w, background.fit)


def composite_of(rgb: np.ndarray, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray,
                 background: LoadedBackground) -> np.ndarray:
    """The composite for estimated layers ``fg``/``bg``: HxWx3, or HxWx4 over a translucent colour."""
    from fusionmat.outputs.compose import composite, composite_translucent

    spec = background.spec
    if spec.translucent:
        return composite_translucent(fg, alpha, spec.colour, spec.opacity)
    return composite(fg, alpha, background_for(rgb, alpha, bg, background))


def write_outputs(rgb: np.ndarray, alpha: np.ndarray, paths: Mapping[str, Path], plan: OutputPlan, *,
                  stamp: str | None = None) -> None:
    """Write every file in ``paths`` (each atomically); colours are estimated once when needed.

    ``stamp`` (see :mod:`fusionmat.outputs.resume`) goes into every output that holds text (PNG,
    JPEG), so a re-run checks each one: an output made with other settings (an earlier ``--only``
    set, another ``--threshold``) is redone, not kept because the matte is current.
    """
    from fusionmat.io.write import cutout_rgba, preview_image, save_image
    from fusionmat.matting.foreground import estimate_layers
    from fusionmat.outputs.resume import OUTPUT_MARK, STAMP_KEY

    def mark(kind: str) -> dict[str, str]:
        """The resume stamp, or without one the mark every output of fusionmat's carries."""
        return {STAMP_KEY: stamp or OUTPUT_MARK}

    if "concat" in paths:
        save_image(paths["concat"], preview_image(rgb, alpha), text=mark("concat"))
    if "cutout" in paths or "composite" in paths:
        fg, bg = estimate_layers(rgb, alpha)
        if "cutout" in paths:
            save_image(paths["cutout"], cutout_rgba(fg, alpha), text=mark("cutout"))
        if "composite" in paths:
            save_image(paths["composite"], composite_of(rgb, fg, bg, alpha, plan.background), quality=plan.quality,
                       text=mark("composite"))
    if "matting" in paths:
        save_image(paths["matting"], alpha, text=mark("matting"))


ONE_FILE_KINDS = ("cutout", "composite", "matte", "preview")
"""What ``predict -o FILE --only KIND`` writes, and what ``batch --only`` chooses among."""
OUTPUT_KIND = {"matting": "matte", "concat": "preview", "cutout": "cutout", "composite": "composite"}
"""Each output file's kind (its name in :func:`output_paths`) as ``--only`` calls it."""


def parse_only(text: str | None) -> frozenset[str] | None:
    """``--only matte,cutout`` as a set of kinds; None for None. ValueError for an unknown kind."""
    if text is None:
        return None
    kinds = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(kinds - set(ONE_FILE_KINDS))
    if unknown or not kinds:
        raise ValueError(f"must be one or more of {', '.join(ONE_FILE_KINDS)} (comma-separated), got {text!r}")
    return kinds


def render(rgb: np.ndarray, alpha: np.ndarray, kind: str, plan: OutputPlan):
    """One output as an image: 'matte' (HxW), 'preview' (photo | matte), 'cutout' (HxWx4 RGBA)
    or 'composite' (on ``plan.background``); an array or a Pillow image, for :func:`fusionmat.io.write.encode`."""
    from fusionmat.io.write import preview_image

    if kind == "matte":
        return alpha
    if kind == "preview":
        return preview_image(rgb, alpha)
    if kind == "cutout":
        return cutout(rgb, alpha)
    if kind == "composite":
        if plan.background is None:
            raise ValueError("a composite needs a background (--bg)")
        return composite_onto(rgb, alpha, plan.background)
    raise ValueError(f"kind must be one of {', '.join(ONE_FILE_KINDS)}, got {kind!r}")


def cutout(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The people of ``image`` as HxWx4 float32 RGBA: foreground colours estimated (no old
    background in the hair), ``alpha`` as the fourth channel."""
    from fusionmat.io.write import cutout_rgba
    from fusionmat.matting.foreground import estimate_layers

    fg, _ = estimate_layers(image, alpha)
    return cutout_rgba(fg, alpha)


def composite_onto(image: np.ndarray, alpha: np.ndarray, background: "str | LoadedBackground",
                   fit: str = "cover") -> np.ndarray:
    """The people of ``image`` on a new background (HxWx3 float32 in [0, 1]; HxWx4 over a
    translucent colour such as '#ffffff80' or 'transparent').

    ``background`` is what ``--bg`` takes ('#RRGGBB', 'blur[:SIGMA]', a picture's path) or a
    :class:`LoadedBackground`; ``fit`` places a picture (cover, contain, stretch).
    """
    from fusionmat.matting.foreground import estimate_layers

    loaded = load_background(background, fit) if isinstance(background, str) else background
    fg, bg = estimate_layers(image, alpha)
    return composite_of(image, fg, bg, alpha, loaded)
