"""batch --watch: a hot folder. Photos that land are matted once complete (one written slowly in
pieces is not read half-written); it runs for a minute with files arriving and ends cleanly."""
from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from fusionmat.engines.base import Engine
from fusionmat.outputs.plan import OutputPlan
from fusionmat.run.batch import BatchConfig, Report, SessionSpec, default_out, run_folder
from tests.conftest import import_or_skip

import_or_skip("watchfiles")


class Box(Engine):
    """A centred box: fast, so the test times the watching, not a network."""

    name = "box"

    def predict(self, image):
        h, w = image.shape[:2]
        alpha = np.zeros((h, w), np.float32)
        alpha[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 1.0
        return alpha


def jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_hot_folder_takes_photos_as_they_land_for_a_minute_and_ends_cleanly(tmp_path):
    from fusionmat.run.watch import watch_folder

    src = tmp_path / "booth"
    src.mkdir()
    (src / "first.jpg").write_bytes(jpeg(0))
    out = default_out(src)
    spec = SessionSpec("box", plan=OutputPlan(), preprocess=None)
    session = spec.build(Box())
    config = BatchConfig(workers=1)
    report = Report()
    run_folder([src / "first.jpg"], src, out, spec, session, config, report=report)  # the first pass
    stop, ready, seen = threading.Event(), threading.Event(), []
    watcher = threading.Thread(target=watch_folder, args=(src, out, spec, session, config),
                               kwargs={"report": report, "stop": stop, "on_ready": ready.set, "settle": 1.0,
                                       "on_outcome": lambda outcome: seen.append((time.monotonic(), outcome))})
    watcher.start()
    assert ready.wait(10)
    began = time.monotonic()
    slow_done = None
    for i in range(6):  # about a minute of arrivals
        (src / f"shot{i}.jpg").write_bytes(jpeg(i + 1))
        (src / f"notes{i}.txt").write_text("not a photo")
        if i == 2:  # a photo written in pieces over 3 s, as a slow copy does
            data = jpeg(99)
            with open(src / "slow.jpg", "wb") as fh:
                for start in range(0, len(data), len(data) // 6 + 1):
                    fh.write(data[start:start + len(data) // 6 + 1])
                    fh.flush()
                    time.sleep(0.5)
            slow_done = time.monotonic()
        time.sleep(max(0.0, began + 10 * (i + 1) - time.monotonic()))
    (src / "shot0.jpg").write_bytes(jpeg(1))  # written again (a new date): matted again
    time.sleep(4)
    stop.set()
    watcher.join(15)
    assert not watcher.is_alive()
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{n}_{k}" for n in ["first", "slow", *(f"shot{i}" for i in range(6))]
                            for k in ("matting.png", "concat.jpg")])
    done = [o for _, o in seen if o.status == "done"]
    slow = [t for t, o in seen if str(o.image).endswith("slow.jpg")]
    assert len(slow) == 1 and slow[0] > slow_done  # once, and only after its last piece
    assert not report.failed and len(done) == 8 and time.monotonic() - began > 60
    assert sum(str(o.image).endswith("shot0.jpg") for o in done) == 2
    assert all(o.status in ("done", "skipped") for _, o in seen)


def test_watch_is_refused_where_it_cannot_work(tmp_path):
    from click.testing import CliRunner

    from fusionmat.cli import main

    (tmp_path / "in").mkdir()
    result = CliRunner().invoke(main, ["batch", str(tmp_path / "in"), "--watch", "--executor", "ray"])
    assert result.exit_code == 2 and "--watch: watches with the local executor only" in result.output


@pytest.mark.parametrize("missing", [True])
def test_without_watchfiles_the_extra_is_named(tmp_path, monkeypatch, missing):
    import builtins

    from fusionmat.errors import MissingDependencyError
    from fusionmat.run.watch import watch_folder

    real = builtins.__import__

    def no_watchfiles(name, *args, **kwargs):
        if name == "watchfiles":
            raise ModuleNotFoundError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_watchfiles)
    with pytest.raises(MissingDependencyError, match=r"fusionmat\[watch\]"):
        watch_folder(tmp_path, tmp_path / "out", None, None, BatchConfig(), report=Report())


def test_a_photo_read_half_written_and_then_done_is_not_a_failure(tmp_path):
    from fusionmat.run.watch import watch_folder

    src = tmp_path / "booth"
    src.mkdir()
    out = default_out(src)
    spec = SessionSpec("box", plan=OutputPlan(), preprocess=None)
    session, config, report = spec.build(Box()), BatchConfig(workers=1), Report()
    stop, ready = threading.Event(), threading.Event()
    watcher = threading.Thread(target=watch_folder, args=(src, out, spec, session, config),
                               kwargs={"report": report, "stop": stop, "on_ready": ready.set, "settle": 0.5})
    watcher.start()
    assert ready.wait(10)
    data = jpeg(5)
    with open(src / "p.jpg", "wb") as fh:
        fh.write(data[: len(data) // 2])
        fh.flush()
        time.sleep(2.5)  # longer than the settle time: read half-written, and fails
        fh.write(data[len(data) // 2:])
    time.sleep(3)
    stop.set()
    watcher.join(15)
    assert report.done and not report.failed  # done since: the failure is gone
