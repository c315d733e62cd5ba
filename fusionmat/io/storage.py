"""Where files live: local paths, or fsspec URLs (``s3://``, ``gs://``, ``memory://``...) for batches
that read from and write to an object store.

Local paths stay :class:`pathlib.Path` and never import fsspec. A URL becomes a
``upath.UPath`` (universal_pathlib: pathlib's interface over fsspec), so the rest of the
package handles both with the same calls; the few that differ are here. URLs need the
``fusionmat[ray]`` extra (fsspec, universal_pathlib; plus the back end, e.g. s3fs).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fusionmat.errors import MissingDependencyError

LOCAL_PROTOCOLS = ("", "file", "local")


def is_url(text: str | os.PathLike) -> bool:
    """True for 'scheme://...' other than file://."""
    text = str(text) if not isinstance(text, Path) else ""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isidentifier() and scheme not in LOCAL_PROTOCOLS


def as_path(location: Any) -> Any:
    """A local :class:`~pathlib.Path`, or a ``UPath`` for a URL (``file://`` URLs become local paths);
    an open binary file (standard input) is returned as it is."""
    if isinstance(location, Path) or is_remote(location) or hasattr(location, "read"):
        return location
    text = os.fspath(location) if isinstance(location, os.PathLike) else str(location)
    if text.startswith("file://"):
        return Path(text[len("file://"):])
    if not is_url(text):
        return Path(text)
    try:
        from upath import UPath
    except ModuleNotFoundError:
        raise MissingDependencyError(
            f"{text}: URLs need fsspec and universal_pathlib: pip install 'fusionmat[ray]'") from None
    try:
        return UPath(text)
    except (ImportError, ValueError) as exc:
        raise MissingDependencyError(f"{text}: {exc}") from None


def is_remote(path: Any) -> bool:
    """True for a path on an fsspec file system other than the local one."""
    return getattr(path, "protocol", "") not in LOCAL_PROTOCOLS


@contextmanager
def opened(path: Any, mode: str = "rb"):
    """A local path as it is (Pillow and OpenCV open it themselves), a remote one as an open file."""
    if not is_remote(path):
        yield path
        return
    with path.open(mode) as handle:
        yield handle


def identity(path: Any) -> dict:
    """Size and stamp of an object in a store: its ETag, checksum or time as the store reports it
    (local files: :func:`fusionmat.outputs.resume.local_identity`). Raises OSError when it is missing."""
    info = path.fs.info(path.path)
    stamp = {"size": info.get("size")}
    for key in ("ETag", "etag", "md5Hash", "crc32c", "mtime", "LastModified", "last_modified", "updated",
                "created"):
        if info.get(key) is not None:
            stamp[key.lower()] = str(info[key])
            break
    return stamp


def upload(local_file: str, target: Any) -> None:
    """Copy a finished local file to a remote ``target`` in one put (objects appear whole)."""
    target.fs.put_file(local_file, target.path)


def relative_folder(image: Any, root: Any) -> str:
    """The folder of ``image`` relative to ``root``, as 'a/b' ('' for root itself)."""
    if not is_remote(image):
        rel = Path(image).parent.relative_to(root)
        return "" if str(rel) == "." else rel.as_posix()
    parent, base = str(image.parent).rstrip("/"), str(root).rstrip("/")
    return parent[len(base):].strip("/") if parent.startswith(base) else ""


def child(folder: Any, relative: str) -> Any:
    """``folder`` / ``relative`` ('' gives ``folder``)."""
    return folder / relative if relative else folder
