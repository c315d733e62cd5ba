"""--device: the provider list that reaches onnxruntime (no GPU here: CUDA is faked, and what a
real GPU would do is not tested; see README)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from fusionmat.engines import device
from fusionmat.errors import FusionmatError


class FakeSession:
    asked: list = []

    def __init__(self, path, options=None, providers=None, runs_on=None):
        FakeSession.asked.append(list(providers))
        self._providers = [runs_on or providers[0]] + providers[1:]

    def get_providers(self):
        return self._providers


@pytest.fixture
def onnx(monkeypatch):
    import onnxruntime

    FakeSession.asked = []
    state = {"available": ["CPUExecutionProvider"], "runs_on": None}
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: state["available"])
    monkeypatch.setattr(onnxruntime, "InferenceSession",
                        lambda path, options=None, providers=None: FakeSession(path, options, providers,
                                                                               state["runs_on"]))
    monkeypatch.delenv(device.ENV_DEVICE, raising=False)
    return state


def test_auto_takes_cuda_when_onnxruntime_has_it(onnx):
    from fusionmat.engines.modnet import load_session

    assert load_session("m.onnx").get_providers()[0] == "CPUExecutionProvider"
    onnx["available"] = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert load_session("m.onnx").get_providers()[0] == "CUDAExecutionProvider"
    assert load_session("m.onnx", device="cpu").get_providers() == ["CPUExecutionProvider"]
    assert FakeSession.asked == [["CPUExecutionProvider"], ["CUDAExecutionProvider", "CPUExecutionProvider"],
                                 ["CPUExecutionProvider"]]


def test_cuda_asked_for_must_be_had(onnx, monkeypatch):
    from fusionmat.engines.modnet import load_session

    with pytest.raises(FusionmatError, match="no CUDA provider; pip install 'fusionmat\\[gpu\\]'"):
        load_session("m.onnx", device="cuda")
    onnx["available"] = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    onnx["runs_on"] = "CPUExecutionProvider"  # the provider is there, the driver is not
    with pytest.raises(FusionmatError, match="could not start CUDA"):
        load_session("m.onnx", device="cuda")
    monkeypatch.setenv(device.ENV_DEVICE, "cuda")
    with pytest.raises(FusionmatError, match="could not start CUDA"):
        load_session("m.onnx")  # from the environment
    monkeypatch.setenv(device.ENV_DEVICE, "tpu")
    with pytest.raises(FusionmatError, match="from \\$FUSIONMAT_DEVICE"):
        device.chosen()


def test_the_option_reaches_every_engine_through_the_environment(monkeypatch, tmp_path):
    from fusionmat.cli import main

    monkeypatch.setenv(device.ENV_DEVICE, "auto")  # recorded, so what the command sets is undone after
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "none.jpg"), "--engine", "selfie",
                                       "--device", "cuda"])
    assert result.exit_code == 1 and "engine selfie runs on the CPU only" in result.output
    import os

    assert os.environ[device.ENV_DEVICE] == "cuda"  # what serve, video and Ray's local workers read
    bad = CliRunner().invoke(main, ["predict", "x.jpg", "--device", "gpu"])
    assert bad.exit_code == 2 and "'gpu' is not one of 'auto', 'cpu', 'cuda'" in bad.output
