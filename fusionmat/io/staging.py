"""Staging: an output is made under a temp name beside its target, then renamed into place.

Temp files and folders are named ``.<target>.fusionmat-<pid>-<random>.part<suffix>``, so a later
run can recognise what a killed one left (:func:`clean_stale_temps`) and never takes a user's
file for one. A commit is a rename, and nothing
is deleted that fusionmat did not make: an existing folder is replaced only when every entry in
it is an earlier output (:func:`check_replaceable`), and only those entries are removed.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fusionmat.errors import OutputError

NAME_MAX = 255
"""Bytes in one file name (ext4, XFS, APFS, NTFS): a temp name is cut to fit."""
RANDOM_LENGTH = 8
"""Characters of the random part that :mod:`tempfile` puts in a name."""
MARK = "fusionmat"
"""The word in every temp name: a user's ``.album.2023-summer.part`` is never taken for a temp."""
TEMP_NAME = re.compile(rf"^\.(?P<target>.+)\.{MARK}-(?P<pid>\d+)-[a-z0-9_]{{{RANDOM_LENGTH}}}\.part(?:\.[^./]*)?$")
"""A staged temp's name: ``.<target>.fusionmat-<pid>-<random>.part<suffix>``, exactly as
:func:`make_temp` makes it (the target may be cut short, see :func:`temp_affixes`)."""

Owned = Callable[[str], bool]
"""Says whether an entry of an existing target folder is an earlier output that may be deleted;
called with the path relative to the folder, with '/' between parts and after a folder's name."""


_OPEN: set[str] = set()
"""The temps this process made and has not committed or removed yet: a temp named with this
process's pid but not in here was left by an earlier process that had the same pid (a container's
processes often do)."""
_OPEN_LOCK = threading.Lock()


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()
"""Read once, at import: changing the umask to read it is not safe while threads write files."""


def current_umask() -> int:
    """The process umask, as read when fusionmat was imported."""
    return _UMASK


def os_reason(exc: Exception) -> str:
    """The operating system's words for an OSError ('No space left on device'), else the message."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def temp_affixes(final: Path) -> tuple[str, str]:
    """The prefix ``.<target>.fusionmat-<pid>-`` and suffix ``.part<suffix>`` of ``final``'s temp
    name; the target part is cut short so the whole name, random part included, fits in NAME_MAX bytes."""
    head, tail = f".{MARK}-{os.getpid()}-", ".part" + final.suffix
    room = NAME_MAX - 1 - len(head) - RANDOM_LENGTH - len(os.fsencode(tail))
    if room < 1:  # an absurdly long suffix: the temp goes without it
        tail = ".part"
        room = NAME_MAX - 1 - len(head) - RANDOM_LENGTH - len(tail)
    name = os.fsencode(final.name)
    while room < len(name) and room > 1 and name[room] & 0xC0 == 0x80:
        room -= 1  # a UTF-8 character is cut whole, never halved
    return f".{os.fsdecode(name[:room])}{head}", tail


def make_temp(final: Path, *, folder: bool = False) -> Path:
    """Create an empty temp file (or folder) for ``final`` in ``final``'s folder (made if missing);
    OutputError naming ``final`` when it cannot be made there."""
    prefix, suffix = temp_affixes(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        with _OPEN_LOCK:
            if folder:
                name = tempfile.mkdtemp(prefix=prefix, suffix=suffix, dir=final.parent)
            else:
                fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=final.parent)
                os.close(fd)
            _OPEN.add(os.path.abspath(name))
        return Path(name)
    except OSError as exc:
        raise OutputError(f"{final}: cannot write there: {os_reason(exc)}") from None


@contextmanager
def staged(final: str | os.PathLike, *, folder: bool = False, owned: Owned | None = None) -> Iterator[Path]:
    """Yield a new temp file (or empty folder) for ``final``; move it to ``final`` by a rename when
    the block ends normally (mode from the umask), remove it when the block raises.

    A link at ``final`` is kept (what it points to is replaced). An existing folder at ``final``
    is replaced only when :func:`check_replaceable` with ``owned`` allows it. Failures to stage or
    commit are OutputErrors naming ``final``.
    """
    final = Path(final)
    if final.is_symlink():
        final = Path(os.path.realpath(final))
    temp = make_temp(final, folder=folder)
    try:
        yield temp
        _commit(temp, final, folder, owned)
    except BaseException:
        _remove_temp(temp)
        raise
    finally:
        with _OPEN_LOCK:
            _OPEN.discard(os.path.abspath(temp))


def check_replaceable(final: Path, owned: Owned | None = None) -> list[Path]:
    """The entries that replacing the existing folder ``final`` (or the one a link there points to)
    will delete, deepest first; an OutputError naming the folder when it is not a folder or holds
    anything ``owned`` rejects (without ``owned``, anything at all). A missing ``final`` gives []."""
    final = Path(final)
    if final.is_symlink():  # the link is kept: what it points to would be replaced
        final = Path(os.path.realpath(final))
    if not final.exists():
        return []
    if not final.is_dir():
        raise OutputError(f"{final}: is not a folder; refusing to replace it")
    entries: list[Path] = []
    for top, folders, files in os.walk(final, topdown=False):
        for name in files + folders:
            path = Path(top, name)
            relative = path.relative_to(final).as_posix()
            regular = not path.is_symlink() and (path.is_file() if name in files else path.is_dir())
            if not regular or owned is None or not owned(relative + ("/" if name in folders else "")):
                raise OutputError(f"{final}: exists and is not an earlier output of fusionmat (it holds "
                                  f"{relative}); refusing to replace it")
            entries.append(path)
    return entries


def clean_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove the temp files and folders that an interrupted fusionmat (SIGKILL, power loss) left
    in ``folder``; returns what was removed ([] when the folder cannot be listed).

    A temp is stale when the process its name records is gone. A running fusionmat's temps are
    left alone, and so is anything whose name is not exactly a staged temp's.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = TEMP_NAME.match(entry.name)
        if match is None:
            continue
        pid = match.group("pid")
        with _OPEN_LOCK:  # a temp this process is making now is not stale
            try:
                if entry.is_dir(follow_symlinks=False) and _gone(int(pid), entry.path):
                    shutil.rmtree(entry.path)
                    removed.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False) and _gone(int(pid), entry.path):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
            except OSError:
                continue
    return removed


def _gone(pid: int, path: str) -> bool:
    """True when the process that made the temp at ``path`` (``pid`` in its name) has ended."""
    if pid == os.getpid():
        return os.path.abspath(path) not in _OPEN
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it exists, as another user's process
        return False
    return False


def _commit(temp: Path, final: Path, folder: bool, owned: Owned | None) -> None:
    try:
        os.chmod(temp, (0o777 if folder else 0o666) & ~current_umask())
        if not folder:
            if final.exists() and not final.is_file():
                raise OutputError(f"{final}: is not a regular file; refusing to replace it")
            os.replace(temp, final)
        elif not final.exists():
            os.rename(temp, final)
        else:
            _replace_folder(temp, final, check_replaceable(final, owned))
    except OSError as exc:
        raise OutputError(f"{final}: could not be written: {os_reason(exc)}") from None


def _replace_folder(temp: Path, final: Path, doomed: list[Path]) -> None:
    """Swap the finished folder ``temp`` in for the earlier output ``final`` (two renames), then
    delete the earlier output's checked entries; whatever else it holds by then stays."""
    aside = make_temp(final, folder=True)
    try:
        os.rename(final, aside)  # over the empty ``aside``
        try:
            os.rename(temp, final)
        except OSError:
            os.rename(aside, final)
            raise
        for path in doomed:  # deepest first: a folder is empty when its turn comes
            old = aside / path.relative_to(final)
            try:
                os.rmdir(old) if old.is_dir() and not old.is_symlink() else os.unlink(old)
            except OSError:
                pass
        try:
            os.rmdir(aside)
        except OSError:  # something new arrived in it: kept, under a name the stale-temp cleaner skips
            prefix, _ = temp_affixes(final)
            try:
                os.rename(aside, tempfile.mkdtemp(prefix=prefix, suffix=".kept", dir=final.parent))
            except OSError:
                pass
    finally:
        with _OPEN_LOCK:
            _OPEN.discard(os.path.abspath(aside))


def _remove_temp(temp: Path) -> None:
    """Remove a temp this process made (a file, or a folder with what was written into it)."""
    try:
        if temp.is_dir() and not temp.is_symlink():
            shutil.rmtree(temp)
        else:
            temp.unlink(missing_ok=True)
    except OSError:
        pass
