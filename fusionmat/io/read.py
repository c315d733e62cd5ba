"""Read any image Pillow can open into the library's convention: HxWx3 RGB, float32 in [0, 1]
(or uint8, a quarter of the memory, which every step of the pipeline also takes).

EXIF orientation is applied, so the array is the picture as a viewer shows it; every
later step (and every output) is aligned with that array.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageOps

from fusionmat.errors import BudgetError, ImageReadError
from fusionmat.io.storage import as_path, is_remote, opened

MIN_SIDE = 16
"""Smallest width or height accepted; smaller images carry no usable subject."""

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to float32 RGB in [0, 1]; transparency is composited onto white."""
    if im.mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(im, dtype=np.float32)
        scale = 65535.0 if im.mode != "I" or grey.max(initial=0) > 255 else 255.0
        grey = np.clip(grey / scale, 0.0, 1.0)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if im.mode == "F":
        grey = np.clip(np.asarray(im, dtype=np.float32) / 255.0, 0.0, 1.0)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if _has_alpha(im):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[:, :, 3:4]
        return rgba[:, :, :3] * alpha + (1.0 - alpha)
    rgb = np.asarray(_as_rgb_mode(im), dtype=np.float32)
    rgb /= 255.0  # in place: no second full-size float copy (0.14 GB at 12 MP)
    return rgb


def _to_rgb8(im: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to uint8 RGB (8-bit modes directly, others through float)."""
    if im.mode in _SIXTEEN_BIT_MODES or im.mode == "F" or _has_alpha(im):
        from fusionmat.io.write import to_uint8

        return to_uint8(_to_rgb(im))
    return np.asarray(_as_rgb_mode(im))


def _as_rgb_mode(im: Image.Image) -> Image.Image:
    """``im`` in Pillow's RGB mode; converted only when it is in another (convert always copies)."""
    return im if im.mode == "RGB" else im.convert("RGB")


KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def not_a_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not read: ``'<path>: is a FIFO, not a regular file'`` and the like (opening
    a FIFO blocks until something writes to it), or the system's reason; None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in KINDS if test(mode)), "not a file")
    return f"{path}: is {kind}, not a regular file"


def refuse_special(path) -> None:
    """ImageReadError for a local path that exists but is not a regular file or folder (a FIFO
    would block the read forever, a device would be read without end)."""
    if hasattr(path, "read") or is_remote(path):
        return
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # missing or unreadable: opening it says why
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise ImageReadError(not_a_file(path))


def label(source) -> str:
    """How messages name a source: a path as it is, an open file (standard input, an upload) by its name."""
    return str(getattr(source, "name", "standard input")) if hasattr(source, "read") else str(source)


@contextmanager
def _decoding(path):
    """Decoding failures as one-line ImageReadErrors naming ``path``; decompression bombs refused."""
    path = label(path)
    try:
        yield
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory") from None
    except PermissionError:
        raise ImageReadError(f"{path}: permission denied") from None
    except Image.UnidentifiedImageError:
        raise ImageReadError(f"{path}: not an image Pillow can read") from None
    except Image.DecompressionBombError:
        from fusionmat.limits import max_pixels

        raise BudgetError(f"{path}: too many pixels (over the limit of {max_pixels()})") from None
    except MemoryError:
        raise ImageReadError(f"{path}: out of memory while decoding") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{path}: corrupt or truncated image ({exc})") from None


def refuse_bombs(im: Image.Image, name) -> None:
    """BudgetError for an image over the pixel budget (:func:`fusionmat.limits.check_pixels`),
    checked on the header before anything is decoded (Pillow itself only warns between one and
    two times its limit, and warning filters are not thread-safe)."""
    from fusionmat.limits import check_pixels

    check_pixels(im.width, im.height, str(name))


@contextmanager
def _header(path) -> Iterator[tuple[Image.Image, str]]:
    """(the opened image, its name in messages), nothing decoded yet: the checks every reader
    makes first (not a FIFO or device, one-line errors, the pixel budget on the header)."""
    path = as_path(path)
    name = label(path)
    refuse_special(path)
    with _decoding(path), opened(path) as source:
        with Image.open(source) as im:
            refuse_bombs(im, name)
            yield im, name


def _check_side(width: int, height: int, name: str) -> None:
    if min(height, width) < MIN_SIDE:
        raise ImageReadError(f"{name}: image is {width}x{height}, smaller than {MIN_SIDE} px on a side")


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image as :func:`read_image` would return it (EXIF orientation
    applied), from its header alone: nothing is decoded. ImageReadError as :func:`read_image`
    (not an image, over the pixel budget, smaller than ``MIN_SIDE``)."""
    with _header(path) as (im, name):
        w, h = im.size
        tags = im.getexif() if im.format != "PNG" else Image.Exif()  # PNG's would decode to look past the pixels
        if im.format == "PNG" and "exif" in im.info:
            tags.load(im.info["exif"])
        if tags.get(0x0112, 1) in (5, 6, 7, 8):  # turned a quarter: sides swap
            w, h = h, w
    _check_side(w, h, name)
    return w, h


def read_image(path: str | os.PathLike, *, dtype: type = np.float32) -> np.ndarray:
    """Read an image file as RGB.

    Parameters
    ----------
    path : str or path-like (or an open binary file, such as standard input's bytes)
        Any file Pillow opens (JPEG, PNG, TIFF, WebP, GIF: first frame, ...), in any mode:
        grey, RGBA/LA/P with transparency (composited onto white), CMYK, 16-bit.
    dtype : ``np.float32`` (values in [0, 1]) or ``np.uint8`` (0..255; what the CLI uses:
        a 12 MP photo takes 36 MB instead of 144 MB).

    Returns
    -------
    numpy.ndarray
        HxWx3 of ``dtype``, EXIF orientation applied.

    Raises
    ------
    ImageReadError
        With a one-line reason: missing, not readable, not an image, truncated,
        larger than Pillow's decompression-bomb limit, or smaller than ``MIN_SIDE``.
    """
    if dtype not in (np.float32, np.uint8):
        raise ValueError(f"dtype must be np.float32 or np.uint8, got {dtype!r}")
    convert = _to_rgb8 if dtype == np.uint8 else _to_rgb
    with _header(path) as (im, name):
        im.load()
        ImageOps.exif_transpose(im, in_place=True)  # no copy of the decoded photo
        rgb = convert(im)
    _check_side(rgb.shape[1], rgb.shape[0], name)
    return rgb


def checked_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """``image`` as the pipeline takes it: uint8 HxWx3 as it is, anything else float32 in [0, 1].

    A uint8 photo stays 8-bit (each step converts only the small copies it works on);
    raises ``ValueError`` naming ``name`` when the array is not HxWx3.
    """
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{name} must be HxWx3 RGB, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    arr = arr.astype(np.float32, copy=False)
    if arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
        return arr  # already in range: no copy of a large photo
    return np.clip(arr, 0.0, 1.0)


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 0..1; a float array is returned as float32 (no copy if it is one)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) * np.float32(1.0 / 255.0)
    return image.astype(np.float32, copy=False)


def matte_values(im: Image.Image) -> np.ndarray:
    """A decoded matte image as HxW float32 in [0, 1]: the alpha channel of an image with
    transparency (a cut-out), else the grey level; 16-bit files scaled by 65535, 32-bit integer
    ones by 65535 when they use more than 8 bits (else 255), float ones taken as [0, 1]."""
    if _has_alpha(im):
        return np.asarray(im.convert("RGBA"), np.float32)[:, :, 3] / 255.0
    if im.mode.startswith("I;16"):
        return np.asarray(im, np.float32) / 65535.0
    if im.mode == "I":
        values = np.asarray(im, np.float32)
        return np.clip(values / (65535.0 if values.max(initial=0) > 255 else 255.0), 0.0, 1.0)
    if im.mode == "F":
        return np.clip(np.asarray(im, np.float32), 0.0, 1.0)
    return np.asarray(im.convert("L"), np.float32) / 255.0


def read_matte(path: str | os.PathLike) -> np.ndarray:
    """Read a matte (or ground truth, or trimap) file as HxW float32 in [0, 1].

    The one matte reader of the package (``compose --matte``, ``evaluate``, the benchmarks): see
    :func:`matte_values` for how each kind of file maps to [0, 1]. EXIF orientation is applied,
    as for photos. Raises ImageReadError with a one-line reason, as :func:`read_image`.
    """
    path = as_path(path)
    refuse_special(path)
    with _decoding(path), opened(path) as source:
        with Image.open(source) as im:
            refuse_bombs(im, label(path))
            im.load()
            ImageOps.exif_transpose(im, in_place=True)
            return matte_values(im)
