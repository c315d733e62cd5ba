"""Deciding whether an image's outputs are up to date, so a re-run can skip it.

Each image's anchor output (its matte; for ``compose``, which writes no matte, its composite)
carries a stamp, in a PNG text chunk or a JPEG comment (``fusionmat``): the input file's size,
modification time (nanoseconds) and a digest of its first and last 64 KB when it was read, and a
key of every setting that shapes the outputs (engine and its options, refinement, preprocessing,
cut-out, background, format, fusionmat's version). A re-run skips an image only when all its
outputs exist and the matte's stamp equals what this run would write: a changed ``--bg`` redoes
the composites, an input replaced by another file (even an older-dated one: ``cp -p``,
``rsync -a``, ``unzip``) redoes the image because its size or time differs, and a photo edited
in place with its time put back (``exiftool -P``, an orientation flip) because its bytes do
(EXIF sits in the first 64 KB; a re-encoded JPEG differs everywhere).
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path

STAMP_KEY = "fusionmat"
"""Name of the PNG text chunk that holds the stamp."""


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, os.PathLike):
        return file_identity(value)
    return repr(value)


def file_identity(path: str | os.PathLike) -> dict:
    """What identifies a file's content cheaply: resolved path and :func:`local_identity` (path alone if missing)."""
    path = Path(path)
    try:
        return {"path": str(path.resolve()), **local_identity(path)}
    except OSError:
        return {"path": str(path)}


CONTENT_SPAN = 64 * 1024
"""Bytes read from each end of a file for its content digest."""


def local_identity(path: str | os.PathLike) -> dict:
    """Size, mtime in ns and, for a regular file, ``sha256`` of its size, first and last
    :data:`CONTENT_SPAN` bytes (a FIFO or a device is not read: that would take its data).
    Raises OSError when it is missing or unreadable."""
    st = os.stat(path)
    identity = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if not stat.S_ISREG(st.st_mode):
        return identity
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # never waits, should it have become a FIFO
    with open(fd, "rb", buffering=0) as handle:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            return identity
        digest = hashlib.sha256(str(opened.st_size).encode())
        digest.update(handle.read(CONTENT_SPAN))
        if opened.st_size > CONTENT_SPAN:
            handle.seek(max(CONTENT_SPAN, opened.st_size - CONTENT_SPAN))
            digest.update(handle.read(CONTENT_SPAN))
    return {"size": opened.st_size, "mtime_ns": opened.st_mtime_ns, "sha256": digest.hexdigest()}


def settings_key(settings: Mapping) -> str:
    """A short hash of every setting that shapes the outputs (paths count by their content's identity)."""
    from fusionmat import __version__

    text = json.dumps({"version": __version__, **_jsonable(settings)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def source_stamp(image: str | os.PathLike) -> dict:
    """The input's :func:`local_identity` (for an object in a store: its size and ETag, checksum
    or time, :func:`fusionmat.io.storage.identity`), as recorded in its matte."""
    from fusionmat.io.storage import as_path, identity, is_remote

    path = as_path(image)
    return identity(path) if is_remote(path) else local_identity(path)


def stamp(image: str | os.PathLike, key: str) -> str:
    """The text written into the matte of ``image`` for settings ``key``."""
    return json.dumps({"settings": key, "source": source_stamp(image)}, sort_keys=True)


def read_stamp(output: str | os.PathLike) -> str | None:
    """The stamp in a PNG's text chunk or a JPEG's comment (read from the header, without
    decoding the pixels), or None."""
    from PIL import Image

    from fusionmat.io.storage import as_path, opened

    try:
        with opened(as_path(output)) as source, Image.open(source) as im:
            if STAMP_KEY in im.info:
                return im.info[STAMP_KEY]
            comment = im.info.get("comment", b"")
            text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment)
            for line in text.splitlines():
                name, sep, value = line.partition("=")
                if sep and name == STAMP_KEY:
                    return value
            return None
    except Exception:  # noqa: BLE001 - missing, unreadable or not an image: not up to date
        return None


OUTPUT_MARK = "output"
"""The stamp of fusionmat's outputs that are not an anchor (previews, cut-outs, saved steps): a
later run over a folder that holds them knows them for what they are."""


def is_output(path) -> bool:
    """True when ``path`` carries fusionmat's stamp (any of its outputs, PNG or JPEG)."""
    return read_stamp(path) is not None


STAMPED_SUFFIXES = (".png", ".jpg", ".jpeg")
"""Outputs that hold a stamp (PNG text, a JPEG comment); a WebP composite holds none."""
ANCHORS = ("matting", "composite", "cutout", "concat")
"""The output that carries the stamp: the first of these an image has (``batch --only`` may
leave out any of them)."""


def anchor(outputs: Mapping[str, Path]) -> str | None:
    """The kind of output that carries the stamp among ``outputs`` (None: no output can)."""
    return next((kind for kind in ANCHORS if kind in outputs), None)


def is_up_to_date(image: str | os.PathLike, outputs: Mapping[str, Path], key: str) -> bool:
    """True when every output (by kind) exists and each one that holds a stamp (PNG, JPEG; not
    WebP) carries the one this run would write; at least one must."""
    if anchor(outputs) is None or not all(p.is_file() for p in outputs.values()):
        return False
    try:
        expected = stamp(image, key)
    except OSError:
        return False
    stamped = [path for path in outputs.values() if path.suffix.lower() in STAMPED_SUFFIXES]
    return bool(stamped) and all(read_stamp(path) == expected for path in stamped)
