"""The engine registry: what each engine declares, and engines whose dependencies are an extra."""
from __future__ import annotations

import importlib.metadata
import inspect
import sys

import pytest
from click.testing import CliRunner

from fusionmat import engines
from fusionmat.cli import main
from fusionmat.engines.base import Engine, Option
from fusionmat.engines.weights import known_files
from fusionmat.errors import MissingDependencyError
from fusionmat.matting.refine import REFINERS
from fusionmat.matting.upsample import UPSAMPLE_METHODS


@pytest.mark.parametrize("name", list(engines.ENGINES))
def test_every_engine_declares_what_the_pipeline_and_cli_need(name):
    cls = engines.engine_class(name)
    assert issubclass(cls, Engine) and cls.name == name
    assert set(cls.files) <= set(known_files())
    keywords = inspect.signature(cls.__init__).parameters
    assert cls.options and all(isinstance(o, Option) and o.name in keywords and o.help for o in cls.options)
    assert cls.refine in REFINERS and cls.upsample in UPSAMPLE_METHODS


def test_the_default_engine_is_modnet_and_unknown_names_are_refused():
    assert engines.DEFAULT_ENGINE == "modnet"
    with pytest.raises(ValueError, match="unknown engine 'u2net'"):
        engines.engine_class("u2net")


def test_a_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as if TensorFlow were not installed
    with pytest.raises(MissingDependencyError, match=r"engine latefusion needs tensorflow.*fusionmat\[latefusion\]"):
        engines.load_engine("latefusion")


def test_cli_says_which_extra_to_install(monkeypatch, tmp_path):
    import importlib.util

    from fusionmat.cli import main

    monkeypatch.setitem(sys.modules, "tensorflow", None)
    (tmp_path / "x.png").write_bytes(b"")
    result = CliRunner().invoke(main, ["predict", str(tmp_path / "x.png"), "--engine", "latefusion"])
    assert result.exit_code == 1 and "pip install 'fusionmat[latefusion]'" in result.output
    assert "Traceback" not in result.output
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf_keras" else real(name, *a))
    result = CliRunner().invoke(main, ["export", "--format", "tflite", "--size", "64x64",
                                       "-o", str(tmp_path / "m.tflite")])
    assert result.exit_code == 1 and "pip install 'fusionmat[export]'" in result.output


def test_tensorflow_is_not_a_core_requirement():
    requirements = importlib.metadata.requires("fusionmat") or []
    core = [r for r in requirements if "extra ==" not in r]
    assert any(r.startswith("onnxruntime") for r in core)
    heavy = [r for r in core if r.lower().startswith(("tensorflow", "tf_keras", "tf-keras", "h5py"))]
    assert heavy == []
    latefusion = [r for r in requirements if 'extra == "latefusion"' in r]
    assert any(r.startswith("tensorflow") for r in latefusion) and any(r.startswith("tf") for r in latefusion)


@pytest.mark.parametrize("name", list(engines.ENGINES))
def test_engine_options_are_parsed_and_checked_from_the_declaration(name):
    cls = engines.engine_class(name)
    with pytest.raises(ValueError, match=f"engine {name} has no option 'nonsense'"):
        cls.parse_options({"nonsense": "1"})
    booleans = [o.name for o in cls.options if o.parse.__name__ == "parse_bool"]
    for option in booleans:
        assert cls.parse_options({option: "false"}) == {option: False}
        with pytest.raises(ValueError, match=f"engine option {option} must be true or false"):
            cls.parse_options({option: "maybe"})


def test_a_number_option_refuses_what_the_network_cannot_take():
    cls = engines.engine_class("modnet")
    assert cls.parse_options({"long_side": "640"}) == {"long_side": 640}
    for text in ("641", "100000", "nan", "-32"):
        with pytest.raises(ValueError, match="long_side must be a whole number from 256 to 2048"):
            cls.parse_options({"long_side": text})


def test_engines_says_what_keeps_an_engine_from_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("FUSIONMAT_HOME", str(tmp_path))  # no model files here
    monkeypatch.chdir(tmp_path)
    listing = CliRunner().invoke(main, ["engines"])
    assert listing.exit_code == 0
    lines = {line.split(":")[0]: line for line in listing.output.splitlines() if not line.startswith(" ")}
    assert "not ready: modnet.onnx missing (run `fusionmat weights fetch`)" in lines["modnet (default)"]
    assert "latefusion.h5 not found" in lines["latefusion"]
