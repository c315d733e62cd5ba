"""Engine registry: name -> loader. Engines import their heavy dependencies only when loaded."""
from __future__ import annotations

from importlib import import_module
from typing import Any

from fusionmat.engines.base import Engine
from fusionmat.errors import FusionmatError, MissingDependencyError

ENGINES: dict[str, str] = {
    "modnet": "fusionmat.engines.modnet:ModnetEngine",
    "selfie": "fusionmat.engines.selfie:SelfieEngine",
    "latefusion": "fusionmat.engines.latefusion:LateFusionEngine",
    "rvm": "fusionmat.engines.rvm:RvmEngine",
    "fusion": "fusionmat.engines.fusion:FusionEngine",
}
DEFAULT_ENGINE = "modnet"


def engine_class(name: str) -> type[Engine]:
    """The Engine subclass registered under ``name``."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    return getattr(import_module(module), cls)


def load_engine(name: str = DEFAULT_ENGINE, **options: Any) -> Engine:
    """Build (load weights of) the engine ``name``; ``threads``, ``device`` (auto, cpu, cuda:
    :mod:`fusionmat.engines.device`) and the engine's declared options (values, or texts as
    ``--engine-opt`` gives them) go to its constructor.

    Raises ValueError for an option the engine does not declare or a bad value, and
    MissingDependencyError, naming the pip extra to install, when the engine's dependencies
    (TensorFlow for latefusion) are not installed.
    """
    import inspect

    from fusionmat.engines.device import chosen

    cls = engine_class(name)
    threads = options.pop("threads", None)
    device = options.pop("device", None)
    options = cls.parse_options(options)
    if "device" in inspect.signature(cls.__init__).parameters:
        options["device"] = device
    elif chosen(device) == "cuda":
        raise FusionmatError(f"engine {name} runs on the CPU only; --device cuda is for modnet, rvm and fusion")
    try:
        return cls(threads=threads, **options)
    except ModuleNotFoundError as exc:
        if cls.extra is None:
            raise
        raise MissingDependencyError(
            f"engine {name} needs {exc.name}, which is not installed: pip install 'fusionmat[{cls.extra}]'"
        ) from None


__all__ = ["ENGINES", "DEFAULT_ENGINE", "Engine", "engine_class", "load_engine"]
