"""The batch runner and the one-image functions as a Python user calls them (no CLI)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import fusionmat
from fusionmat.run.process import Outcome
from tests.conftest import requires_weights


def test_library_modules_do_not_import_the_cli():
    code = ("import sys, fusionmat, fusionmat.run.batch, fusionmat.outputs.plan, fusionmat.io.folder, "
            "fusionmat.outputs.resume; "
            "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('fusionmat.cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_modules_are_not_shadowed_by_their_commands():
    import importlib

    import click

    for name in ("predict", "batch", "compose", "evaluate", "export", "weights"):
        module = importlib.import_module(f"fusionmat.cli.{name}")
        assert getattr(importlib.import_module("fusionmat.cli"), name) is module
        assert isinstance(getattr(module, name), click.Command)


@requires_weights
def test_batch_api_reports_done_skipped_and_failed(tmp_path, astronaut):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(astronaut).resize((128, 128)).save(photos / "good.png")
    (photos / "bad.jpg").write_text("not a photo")
    events: list[Outcome] = []
    report = fusionmat.batch(photos, tmp_path / "out", engine="selfie", on_outcome=events.append)
    assert report.done == [str(photos / "good.png")] and report.skipped == []
    assert [f["file"] for f in report.failed] == [str(photos / "bad.jpg")] and not report.ok
    assert sorted((e.status, e.image.name) for e in events) == [("done", "good.png"), ("failed", "bad.jpg")]
    assert Image.open(tmp_path / "out" / "good_matting.png").size == (128, 128)
    again = fusionmat.batch(photos, tmp_path / "out", engine="selfie")
    assert again.done == [] and again.skipped == [str(photos / "good.png")]


def test_batch_api_refuses_bad_arguments(tmp_path):
    from fusionmat.errors import FusionmatError

    with pytest.raises(FusionmatError, match="not a folder"):
        fusionmat.batch(tmp_path / "missing")
    with pytest.raises(ValueError, match="must not be the input folder"):
        fusionmat.batch(tmp_path, tmp_path)


def test_cutout_and_composite_of_one_image(astronaut):
    alpha = np.zeros(astronaut.shape[:2], np.float32)
    alpha[100:400, 150:350] = 1.0
    rgba = fusionmat.cutout(astronaut, alpha)
    assert rgba.shape == (512, 512, 4) and np.array_equal(rgba[..., 3], alpha)
    white = fusionmat.composite(astronaut, "#ffffff", alpha)
    assert white.shape == (512, 512, 3) and np.allclose(white[0, 0], 1.0)
    inside = white[200:300, 200:300]
    assert np.allclose(inside, astronaut[200:300, 200:300] / 255.0, atol=0.02)
