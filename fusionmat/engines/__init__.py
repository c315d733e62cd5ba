"""Engine registry: name -> loader. Engines import their heavy dependencies only when loaded."""
from __future__ import annotations

from importlib import import_module
from typing import Any

from fusionmat.engines.base import Engine

ENGINES: dict[str, str] = {
    "selfie": "fusionmat.engines.selfie:SelfieEngine",
    "latefusion": "fusionmat.engines.latefusion:LateFusionEngine",
}
DEFAULT_ENGINE = "selfie"


def engine_class(name: str) -> type[Engine]:
    """The Engine subclass registered under ``name``."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")
    module, cls = ENGINES[name].split(":")
    return getattr(import_module(module), cls)


def load_engine(name: str = DEFAULT_ENGINE, **options: Any) -> Engine:
    """Build (load weights of) the engine ``name``; options go to its constructor."""
    return engine_class(name)(**options)


__all__ = ["ENGINES", "DEFAULT_ENGINE", "Engine", "engine_class", "load_engine"]
