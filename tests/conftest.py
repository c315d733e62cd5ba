"""Shared fixtures: the astronaut portrait, synthetic images, and weight availability."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def weights_present() -> bool:
    from fusionmat.engines.weights import file_status, known_files

    return all(file_status(name) == "ok" for name in known_files())


IN_CI = bool(os.environ.get("CI"))
"""In CI (CI=true) nothing is skipped for missing data or model files: such a test runs and fails."""

requires_weights = pytest.mark.skipif(
    not IN_CI and not weights_present(),
    reason="model files not fetched; run `fusionmat weights fetch` (README set-up does)",
)
requires_shared = pytest.mark.skipif(
    not IN_CI and not SHARED.is_dir(),
    reason="../shared (benchmarks and reference data) is only present in CI",
)


def import_or_skip(name: str):
    """The module ``name``; outside CI a missing optional dependency skips the tests that need it,
    in CI (where the test extra installs everything) it is an error."""
    if IN_CI:
        import importlib

        return importlib.import_module(name)
    return pytest.importorskip(name)


@pytest.fixture(scope="session")
def recipe_model():
    """The Late Fusion network (any input size) with the reference's deterministic recipe weights;
    built once for the session (about 5 s)."""
    import_or_skip("tf_keras")
    from fusionmat.engines.latefusion_net.model import build_latefusion
    from tests.latefusion_fixtures import set_recipe_weights

    model = build_latefusion()
    set_recipe_weights(model)
    return model


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut portrait (public domain), 512x512 uint8 RGB."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_file(tmp_path_factory, astronaut) -> Path:
    path = tmp_path_factory.mktemp("astro") / "astronaut.png"
    Image.fromarray(astronaut).save(path)
    return path


@pytest.fixture(scope="session")
def modnet_engine():
    from fusionmat.engines import load_engine

    if not weights_present():
        pytest.skip("model files not fetched; run `fusionmat weights fetch`")
    return load_engine("modnet")


@pytest.fixture(scope="session")
def selfie_engine():
    from fusionmat.engines import load_engine

    if not weights_present():
        pytest.skip("model files not fetched; run `fusionmat weights fetch`")
    return load_engine("selfie")
