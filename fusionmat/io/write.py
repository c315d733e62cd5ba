"""Write outputs atomically: temp file in the target folder, then rename over the target
(:mod:`fusionmat.io.staging`, whose ``clean_stale_temps`` and ``current_umask`` are importable here too).

A crash or Ctrl-C never leaves a partial or zero-byte output, and an input file is never
the target of a write.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from fusionmat.errors import OutputError
from fusionmat.io.staging import TEMP_NAME, clean_stale_temps, current_umask, staged  # noqa: F401
from fusionmat.io.staging import os_reason as _reason

JPEG_QUALITY = 95


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` and move the finished file to ``path`` in one rename (see
    :func:`fusionmat.io.staging.staged`).

    Any failure to write (a full disk, a read-only folder, a folder that is a file, an image an
    encoder refuses) is an OutputError naming ``path`` and the reason; the temp file is removed.
    """
    from fusionmat.io.storage import as_path, is_remote

    path = as_path(path)
    if is_remote(path):
        return _write_and_upload(path, write)
    if is_special(path):
        return _write_in_place(path, write)  # /dev/stdout, a FIFO: never rename over it
    if path.is_symlink():  # keep the link: the finished file replaces what it points to
        path = Path(os.path.realpath(path))
    try:
        with staged(path) as tmp:
            write(str(tmp))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: could not be written: {_reason(exc)}") from None
    return path


SPECIAL_ROOTS = ("/dev/", "/proc/")


def is_special(path: str | os.PathLike) -> bool:
    """True for a target that must be written into, never replaced: anything under /dev or /proc
    (``/dev/stdout`` redirected to a file is a link to a regular file, and renaming over it would
    replace the system's link), or an existing path that is neither a file nor a folder (a FIFO)."""
    path = Path(path)
    if str(path).startswith(SPECIAL_ROOTS) or os.path.realpath(path).startswith(SPECIAL_ROOTS):
        return True
    return path.exists() and not path.is_file() and not path.is_dir()


def is_stream(path: str | os.PathLike) -> bool:
    """A target written into, never replaced: ``/dev/stdout``, a FIFO (:func:`is_special`), not a folder."""
    return is_special(path) and not Path(path).is_dir()


def _write_and_upload(path, write: Callable[[str], None]):
    """A remote target (an object store): written to a local temp file, then put in one upload,
    so the object appears whole or not at all."""
    from fusionmat.io.storage import upload

    fd, tmp = tempfile.mkstemp(prefix=".fusionmat-upload.", suffix=".part" + path.suffix)
    os.close(fd)
    try:
        write(tmp)
        upload(tmp, path)
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: could not be written: {_reason(exc)}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _write_in_place(path: Path, write: Callable[[str], None]) -> Path:
    """Write straight into an existing target that is not a regular file (a device or a pipe)."""
    try:
        write(str(path))
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: could not be written: {_reason(exc)}") from None
    return path


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Float in [0, 1] -> uint8 with rounding (values outside are clipped); uint8 passes through."""
    if array.dtype == np.uint8:
        return array
    out = np.empty(array.shape, np.uint8)
    for top in range(0, max(1, array.shape[0]), 256):  # in bands: no full-size float temporary
        scaled = np.multiply(array[top:top + 256], 255.0, dtype=np.float32)
        np.clip(scaled, 0.0, 255.0, out=scaled)
        scaled += 0.5
        out[top:top + 256] = scaled
    return out


FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
"""Output suffixes and the Pillow format each one writes."""


def format_of(path: str | os.PathLike) -> str:
    """The Pillow format for an output path's suffix; OutputError for one fusionmat does not write."""
    from fusionmat.io.storage import as_path

    suffix = as_path(path).suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(f"{path}: unsupported output format {suffix!r} (use .png, .jpg, .webp or .tif)")
    return FORMATS[suffix]


MAX_SIDE = {"JPEG": 65500, "WEBP": 16383}
"""The longest side each format's encoder takes (libjpeg's JPEG_MAX_DIMENSION, libwebp's WEBP_MAX_DIMENSION)."""
_FORMAT_NAMES = {"JPEG": "JPEG", "WEBP": "WebP"}


def check_side(fmt: str, width: int, height: int, name: str | os.PathLike = "output") -> None:
    """OutputError (naming ``name``) when a ``width`` x ``height`` image is over what ``fmt``
    ('PNG', 'JPEG', ...) can hold (:data:`MAX_SIDE`); checked before any work where the size is known."""
    limit = MAX_SIDE.get(fmt)
    if limit is not None and max(width, height) > limit:
        side = "wide" if width > limit else "tall"
        raise OutputError(f"{name}: {width}x{height} is too {side} for {_FORMAT_NAMES[fmt]} "
                          f"(at most {limit} px a side); use .png")


def encode(array: np.ndarray | Image.Image, fmt: str, destination, *, quality: int = JPEG_QUALITY,
           text: Mapping[str, str] | None = None, name: str | os.PathLike = "output") -> None:
    """Encode a float [0, 1] or uint8 array (HxW, HxWx3 or HxWx4), or a Pillow image, as ``fmt``
    ('PNG', 'JPEG', 'WEBP', 'TIFF') into ``destination`` (a path or a binary file).

    ``text`` goes into a PNG's text chunks, or a JPEG's comment as ``key=value`` lines (WebP and
    TIFF: not written); ``quality`` is JPEG's and WebP's. OutputError (naming ``name``) for an
    image the format cannot hold: transparency in JPEG, a side over :data:`MAX_SIDE`."""
    width, height = array.size if isinstance(array, Image.Image) else (array.shape[1], array.shape[0])
    check_side(fmt, width, height, name)
    im = array if isinstance(array, Image.Image) else Image.fromarray(to_uint8(array))
    if fmt == "JPEG" and im.mode == "RGBA":
        raise OutputError(f"{name}: JPEG cannot hold transparency; use .png or .webp")
    options: dict = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG" and text:
        from PIL.PngImagePlugin import PngInfo

        options["pnginfo"] = info = PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
    if fmt == "JPEG" and text:
        options["comment"] = "\n".join(f"{key}={value}" for key, value in text.items())
    if fmt == "JPEG":
        options["subsampling"] = 0  # 4:4:4: 4:2:0 halves the colour resolution and brings back hair halos
    im.save(destination, format=fmt, **options)


def save_image(path: str | os.PathLike, array: np.ndarray | Image.Image, *, quality: int = JPEG_QUALITY,
               text: Mapping[str, str] | None = None) -> Path:
    """Save an image atomically (see :func:`encode`); the format comes from the suffix.

    The image is encoded in memory and then written with Python's file object, which writes
    every byte or raises: Pillow's encoders write to the file descriptor themselves and take a
    short write on a full disk for success, which left truncated files."""
    import io

    fmt = format_of(path)
    buffer = io.BytesIO()
    encode(array, fmt, buffer, quality=quality, text=text, name=path)
    return save_bytes(path, buffer.getbuffer())


def save_bytes(path: str | os.PathLike, data) -> Path:
    """Write encoded bytes to ``path`` atomically (into it, for /dev/stdout or a pipe)."""
    return atomic_write(path, lambda tmp: _write_all(tmp, data))


def _write_all(path: str, data) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


def preview_image(image: np.ndarray, alpha: np.ndarray) -> Image.Image:
    """The released project's preview: image | matte as RGB side by side, same height.

    Parameters
    ----------
    image : HxWx3 RGB, uint8 or float32 in [0, 1]
    alpha : HxW float32 in [0, 1]

    Returns
    -------
    A (2W)xH RGB Pillow image, pasted together in Pillow's own memory (no Hx2Wx3 array
    besides it: a 12 MP preview is 96 MB there).
    """
    if alpha.shape != image.shape[:2]:
        raise ValueError(f"alpha must have shape {image.shape[:2]}, got {alpha.shape}")
    h, w = alpha.shape
    both = Image.new("RGB", (2 * w, h))
    for top in range(0, h, 512):  # in bands: the only full-size buffer is the preview itself
        rows = slice(top, min(h, top + 512))
        both.paste(Image.fromarray(to_uint8(image[rows])), (0, top))
        both.paste(Image.fromarray(to_uint8(alpha[rows])).convert("RGB"), (w, top))
    return both


def concat_preview(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """:func:`preview_image` as an Hx(2W)x3 uint8 array."""
    return np.asarray(preview_image(image, alpha))


def cutout_rgba(foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Stack a foreground colour image and its matte into HxWx4 RGBA."""
    return np.concatenate([foreground, alpha[:, :, None]], axis=2)
