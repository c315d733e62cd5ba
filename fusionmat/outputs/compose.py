"""Putting a matted subject onto a new background: colour, picture or the photo's own blur."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_BLUR = 25
"""Gaussian sigma, in pixels of a 1000 px long side, of ``--bg blur``."""
FITS = ("cover", "contain", "stretch")


@dataclass(frozen=True)
class Background:
    """What to put behind the subject: exactly one of ``colour``, ``path`` or ``blur``.

    colour : RGB floats in [0, 1].
    opacity : the colour's opacity in [0, 1]; below 1 the composite keeps transparency (RGBA).
    path : an image file, fitted to the photo (see :func:`fit_background`).
    blur : Gaussian sigma for a 1000 px long side; the photo's own background, blurred.
    """

    colour: tuple[float, float, float] | None = None
    path: Path | None = None
    blur: float | None = None
    opacity: float = 1.0

    @property
    def translucent(self) -> bool:
        """True when the composite needs an alpha channel (PNG or WebP, not JPEG)."""
        return self.colour is not None and self.opacity < 1.0


TRANSPARENT = "transparent"


def parse_colour(spec: str) -> tuple[tuple[float, float, float], float] | None:
    """(RGB in [0, 1], opacity) for a colour: '#rgb', '#rrggbb', '#rrggbbaa', a CSS name
    ('white'), 'rgb(...)' or 'transparent'; None when ``spec`` is not written as a colour.
    ValueError for something written as a colour that is not one ('#ff80')."""
    from PIL import ImageColor

    if spec.lower() == TRANSPARENT:
        return (0.0, 0.0, 0.0), 0.0
    looks_like_colour = spec.startswith("#") or spec.lower() in ImageColor.colormap or re.fullmatch(
        r"(rgb|rgba|hsl|hsv|hsb)\(.*\)", spec.lower())
    if not looks_like_colour:
        return None
    try:
        r, g, b, a = ImageColor.getcolor(spec, "RGBA")
    except ValueError:
        raise ValueError(f"background colour must be #RGB, #RRGGBB, #RRGGBBAA, a colour name or "
                         f"'transparent', got {spec!r}") from None
    return (r / 255.0, g / 255.0, b / 255.0), a / 255.0


def parse_background(spec: str, *, files: bool = True) -> Background:
    """A colour (see :func:`parse_colour`), 'blur' or 'blur:SIGMA', or an image file's path.

    An existing file wins over a colour name (a picture called ``white`` is a picture). With
    ``files=False`` (text from a client of the server) a path is never taken: ValueError."""
    if not files or not os.path.isfile(os.path.expanduser(spec)):
        colour = parse_colour(spec)
        if colour is not None:
            return Background(colour=colour[0], opacity=colour[1])
    if spec == "blur" or spec.startswith("blur:"):
        try:
            sigma = float(spec[5:]) if spec.startswith("blur:") else DEFAULT_BLUR
        except ValueError:
            sigma = -1.0
        if not sigma > 0:
            raise ValueError(f"background blur must be blur or blur:SIGMA with SIGMA > 0, got {spec!r}")
        return Background(blur=sigma)
    if not files:
        raise ValueError(f"bg must be a colour, transparent or blur[:SIGMA], got {spec!r}")
    return Background(path=Path(os.path.expanduser(spec)))


def fit_background(background: np.ndarray, height: int, width: int, fit: str = "cover") -> np.ndarray:
    """Fit an RGB picture (uint8, or float in [0, 1]) to ``height`` x ``width``, as float32 in [0, 1].

    cover : scale to fill the frame, then crop the centre (no bars, no distortion);
    contain : scale to fit inside, then pad with the picture's mean colour;
    stretch : resize to the frame, ignoring the aspect ratio.
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    if background.dtype == np.uint8:
        from fusionmat.io.read import to_float

        return to_float(_fit(background, height, width, fit))  # fitted while it is small
    return _fit(background, height, width, fit)


def _fit(background: np.ndarray, height: int, width: int, fit: str) -> np.ndarray:
    from fusionmat.matting.resize import resize_to

    if fit == "stretch":
        return resize_to(background, height, width)
    bh, bw = background.shape[:2]
    scale = (max if fit == "cover" else min)(height / bh, width / bw)
    sh, sw = max(1, round(bh * scale)), max(1, round(bw * scale))
    scaled = resize_to(background, sh, sw)
    if fit == "cover":
        top, left = (sh - height) // 2, (sw - width) // 2
        return np.ascontiguousarray(scaled[top:top + height, left:left + width])
    canvas = np.empty((height, width, 3), background.dtype)
    canvas[:] = background.reshape(-1, 3).mean(axis=0)
    top, left = (height - sh) // 2, (width - sw) // 2
    canvas[top:top + sh, left:left + sw] = scaled
    return canvas


SMALL_SIGMA = 4.0
"""A wide blur is done on a copy shrunk until its sigma is this many pixels, then enlarged:
the result has no detail finer than the blur, and a 12 MP photo's blur takes 0.1 s, not 15 s."""


def blurred_background(old_background: np.ndarray, sigma: float) -> np.ndarray:
    """The photo's own background colours, Gaussian-blurred (sigma scaled to the image size)."""
    import cv2

    from fusionmat.matting.resize import resize_to

    h, w = old_background.shape[:2]
    sigma_px = sigma * max(h, w) / 1000.0
    shrink = max(1.0, sigma_px / SMALL_SIGMA)
    if shrink <= 2.0:
        return cv2.GaussianBlur(old_background, (0, 0), sigma_px)
    sh, sw = max(1, round(h / shrink)), max(1, round(w / shrink))
    small = cv2.GaussianBlur(resize_to(old_background, sh, sw), (0, 0), sigma_px * sh / h)
    return resize_to(small, h, w)


def composite(foreground: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``alpha * foreground + (1 - alpha) * background``, all HxW(x3) float32 in [0, 1]."""
    a = alpha[:, :, None]
    return np.clip(a * foreground + (1.0 - a) * background, 0.0, 1.0).astype(np.float32)


def composite_translucent(foreground: np.ndarray, alpha: np.ndarray, colour: tuple[float, float, float],
                          opacity: float) -> np.ndarray:
    """The subject over a colour of opacity < 1, as HxWx4 RGBA (the 'over' operator):
    transparent (opacity 0) gives the cut-out itself."""
    a = alpha[:, :, None]
    out_alpha = a + opacity * (1.0 - a)
    weighted = a * foreground + (opacity * (1.0 - a)) * np.asarray(colour, np.float32)
    rgb = np.divide(weighted, out_alpha, out=np.zeros_like(weighted), where=out_alpha > 0)
    return np.clip(np.concatenate([rgb, out_alpha], axis=2), 0.0, 1.0).astype(np.float32)
