"""Shared fixtures: the astronaut portrait, synthetic images, and weight availability; the test tiers
(markers ``slow`` and ``browser``, registered in pyproject.toml) applied by file and test."""
from __future__ import annotations

import functools
import inspect
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def weights_present() -> bool:
    from fusionmat.engines.weights import file_status, known_files

    return all(file_status(name) == "ok" for name in known_files())


IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
"""In CI (CI=true) nothing is skipped for missing data or model files: such a test runs and fails."""


def skip_or_fail(reason: str):
    """Skip the test outside CI; in CI fail it, as a missing ../shared, model file or test-extra module
    must not pass there unseen."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


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
        skip_or_fail("model files not fetched; run `fusionmat weights fetch`")
    return load_engine("modnet")


@pytest.fixture(scope="session")
def selfie_engine():
    from fusionmat.engines import load_engine

    if not weights_present():
        skip_or_fail("model files not fetched; run `fusionmat weights fetch`")
    return load_engine("selfie")


BROWSER_FILES = {"test_serve_browser.py"}
"""Files whose every test drives headless chromium; elsewhere a test (or one of its fixtures) that
imports selenium is marked ``browser`` too."""
SLOW_FILES = {"test_export.py"}
"""Files whose every test is ``slow`` (TensorFlow conversions through tf2onnx, the TFLite converter, coremltools)."""
SLOW_FIXTURES = {"recipe_model"}
"""A test that uses one of these (directly or through another fixture) is ``slow``: the full Late Fusion network."""
_SELENIUM = re.compile(r"\b(?:from|import)\s+selenium\b|[\"']selenium[\"']")


@functools.cache
def _mentions_selenium(function) -> bool:
    try:
        return bool(_SELENIUM.search(inspect.getsource(function)))
    except (OSError, TypeError):  # no source to read
        return False


def _uses_selenium(item) -> bool:
    """Whether the test function or one of its fixtures imports selenium."""
    functions = [getattr(item, "function", None)]
    fixture_info = getattr(item, "_fixtureinfo", None)
    for definitions in getattr(fixture_info, "name2fixturedefs", {}).values():
        functions += [definition.func for definition in definitions]
    return any(function is not None and _mentions_selenium(function) for function in functions)


def pytest_collection_modifyitems(config, items):
    """The tiers: ``-m "not slow and not browser"`` is the fast one; CI runs them all."""
    for item in items:
        name = item.path.name
        if name in BROWSER_FILES or _uses_selenium(item):
            item.add_marker(pytest.mark.browser)
        if name in SLOW_FILES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
