"""``--executor ray``: the same job on Ray Data gives the same outputs and report as local threads;
fsspec URLs as source and destination; Ctrl-C leaves nothing partial and a re-run resumes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import fusionmat
import fusionmat.run.batch
from fusionmat.cli import main
from tests.conftest import import_or_skip, requires_weights
from tests.test_batch import make_fault_folder

ray = import_or_skip("ray")


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with 2 CPUs, started by the test (as a user would run `ray start --head`)."""
    from fusionmat.run.ray_executor import start_ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    start_ray()  # the runner's own settings on the running Ray
    yield ray
    if started:
        ray.shutdown()


def report_of(path):
    data = json.loads(path.read_text())
    return {key: sorted(map(json.dumps, data[key])) for key in ("done", "skipped", "failed")}


@requires_weights
def test_ray_gives_the_same_mattes_and_report_as_local_threads(tmp_path, astronaut, local_ray):
    src = tmp_path / "photos"
    src.mkdir()
    good, bad = make_fault_folder(src, astronaut)
    common = ["batch", str(src), "-r", "--threads", "1", "--engine", "selfie"]  # the engine does not matter here
    local = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "local"), "--json", str(tmp_path / "l.json")])
    on_ray = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "ray"), "--json", str(tmp_path / "r.json"),
                                       "--executor", "ray", "--concurrency", "2"])
    assert local.exit_code == on_ray.exit_code == 1, on_ray.output
    assert "Traceback" not in on_ray.output
    assert report_of(tmp_path / "l.json") == report_of(tmp_path / "r.json")
    assert len(json.loads((tmp_path / "r.json").read_text())["done"]) == len(good)
    mattes = sorted(p.relative_to(tmp_path / "local") for p in (tmp_path / "local").rglob("*_matting.png"))
    assert len(mattes) == len(good)
    for rel in mattes:
        assert (tmp_path / "local" / rel).read_bytes() == (tmp_path / "ray" / rel).read_bytes(), rel


@requires_weights
def test_ctrl_c_of_a_ray_run_leaves_nothing_partial_and_a_rerun_resumes(tmp_path, astronaut, local_ray):
    src, out = tmp_path / "photos", tmp_path / "out"
    src.mkdir()
    for i in range(6):
        Image.fromarray(astronaut).resize((128 + i, 128)).save(src / f"p{i}.png")
    seen = []

    def interrupt_after_two(event):
        seen.append(event)
        if len(seen) == 2:
            raise KeyboardInterrupt

    first = fusionmat.batch(src, out, engine="selfie", executor="ray", concurrency=1, on_outcome=interrupt_after_two)
    assert first.interrupted and len(first.done) == 2  # recorded, then shown: the second event stopped it
    for matte in out.glob("*_matting.png"):  # whatever is at a final name is whole
        assert Image.open(matte).size[1] == 128
    second = fusionmat.batch(src, out, engine="selfie", executor="ray", concurrency=2)
    assert second.ok and len(second.done) + len(second.skipped) == 6 and len(second.skipped) >= 1
    assert sorted(p.name for p in out.iterdir()) == sorted(f"p{i}_{kind}" for i in range(6)
                                                             for kind in ("concat.jpg", "matting.png"))


@requires_weights
def test_memory_urls_round_trip(astronaut):
    """Source and outputs on an fsspec file system (memory:// here; s3:// or gs:// on a cluster)."""
    fsspec = import_or_skip("fsspec")
    fs = fsspec.filesystem("memory")
    for name, size in (("a.jpg", (160, 160)), ("sub/b.png", (128, 96))):
        with fs.open(f"/rt/in/{name}", "wb") as handle:
            Image.fromarray(astronaut).resize(size).save(handle, format="PNG" if name.endswith("png") else "JPEG")
    fs.pipe("/rt/in/broken.jpg", b"not a photo")
    report = fusionmat.batch("memory://rt/in", "memory://rt/out", recursive=True, background="#00ff00")
    assert sorted(report.done) == ["memory://rt/in/a.jpg", "memory://rt/in/sub/b.png"]
    assert [f["file"] for f in report.failed] == ["memory://rt/in/broken.jpg"]
    with fs.open("/rt/out/sub/b_matting.png", "rb") as handle:
        matte = np.asarray(Image.open(handle))
    assert matte.shape == (96, 128) and matte.max() > 200
    assert fs.exists("/rt/out/a_composite.jpg") and fs.exists("/rt/out/a_concat.jpg")
    again = fusionmat.batch("memory://rt/in", "memory://rt/out", recursive=True, background="#00ff00")
    assert again.done == [] and len(again.skipped) == 2
    other = fusionmat.batch("memory://rt/in", "memory://rt/out", recursive=True, background="#0000ff")
    assert len(other.done) == 2  # another background: redone


def test_cli_takes_urls_and_refuses_bad_folders(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    result = CliRunner().invoke(main, ["batch", str(tmp_path / "file.txt")])
    assert result.exit_code == 2 and "not a folder" in result.output
    result = CliRunner().invoke(main, ["batch", str(tmp_path), "--out", str(tmp_path / "file.txt")])
    assert result.exit_code == 2 and "is a file" in result.output


class BrokenSpec(fusionmat.run.batch.SessionSpec):
    """A session whose engine raises a plain RuntimeError for a photo with a pure red top-left
    pixel (shipped to the actors by value: the actors cannot import the tests)."""

    def build(self, engine=None, **session):
        from fusionmat.engines.base import Engine
        from fusionmat.run.process import Session

        class Stub(Engine):
            name = "stub"

            def predict(self, image):
                if tuple(np.asarray(image)[0, 0]) == (255, 0, 0):
                    raise RuntimeError("the stub engine broke")
                return np.ones(image.shape[:2], np.float32)

        return Session(Stub(), "none", plan=self.plan, **session)


def test_a_ray_actor_reports_a_non_fusionmat_error_as_that_images_failure(tmp_path, local_ray):
    import sys

    from fusionmat.run.batch import BatchConfig, Report, run_folder

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    src = tmp_path / "src"
    src.mkdir()
    for name, red in (("good.png", False), ("bad.png", True)):
        rgb = np.full((40, 40, 3), 100, np.uint8)
        if red:
            rgb[0, 0] = (255, 0, 0)
        Image.fromarray(rgb).save(src / name)
    spec = BrokenSpec("selfie")
    images = sorted(src.iterdir())
    report = run_folder(images, src, tmp_path / "out", spec, spec.build(), BatchConfig(executor="ray"),
                        report=Report())
    assert report.done == [str(src / "good.png")]
    assert report.failed == [{"file": str(src / "bad.png"),
                              "error": "unexpected error: RuntimeError: the stub engine broke"}]
