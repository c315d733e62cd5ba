"""The interface every engine implements.

An engine is one module with one :class:`Engine` subclass, plus one line in the registry
(:data:`fusionmat.engines.ENGINES`). The class declares everything the rest of the package
needs to know, so neither the pipeline nor the CLI names an engine:

- ``files``: the model files it loads (names in ``weights/manifest.json``);
- ``options``: the keyword options its constructor takes besides ``threads``, each an
  :class:`Option` (name, parser from text, help); the CLI's ``--engine-opt KEY=VALUE``, the
  server, Ray actors and :func:`fusionmat.load_engine` all take them from this declaration;
- ``extra``: the pip extra that installs its dependencies, when they are not core ones;
- ``input_size(h, w)``: the grid it works on for an HxW image;
- ``refine``: the refinement the pipeline applies by default ('closed-form' for a coarse
  segmentation, 'none' for a true matting network);
- ``upsample``: how the pipeline brings its output to the image's size ('guided' keeps a
  matting network's edges on the photo's edges; 'bilinear');
- ``settings()``: what, besides its name, makes its mattes differ (a batch re-run redoes an
  image whose matte was made with other settings).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Option:
    """One keyword option of an engine: its name, how its text (``--engine-opt name=TEXT``)
    becomes its value (ValueError saying why not), and one line of help."""

    name: str
    parse: Callable[[str], Any]
    help: str


def parse_bool(text: str) -> bool:
    """'true'/'false' (also yes/no, on/off, 1/0)."""
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def int_in(low: int, high: int, multiple: int = 1) -> Callable[[str], int]:
    """A parser of whole numbers from ``low`` to ``high`` (and multiples of ``multiple``)."""

    def parse(text: str) -> int:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"must be a whole number, got {text!r}") from None
        if not math.isfinite(value) or value != int(value) or not low <= value <= high or int(value) % multiple:
            extra = f", a multiple of {multiple}" if multiple > 1 else ""
            raise ValueError(f"must be a whole number from {low} to {high}{extra}, got {text!r}")
        return int(value)

    return parse


class Engine(ABC):
    """A loaded matting model. Build it once and reuse it for every image."""

    name: str = ""
    files: tuple[str, ...] = ()
    options: tuple[Option, ...] = ()
    extra: str | None = None
    refine: str = "none"
    upsample: str = "bilinear"

    @classmethod
    def parse_options(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """The engine's keyword options from ``given``, each parsed and checked by its :class:`Option`
        (a number as its text is: ``warm=9`` is refused as ``warm="9"`` is; other values, a path or
        a size, pass as they are); ValueError
        naming an option it does not take or a bad value."""
        declared = {option.name: option for option in cls.options}
        parsed = {}
        for name, value in given.items():
            if name not in declared:
                takes = ", ".join(declared) or "no options"
                raise ValueError(f"engine {cls.name} has no option {name!r} (it takes {takes})")
            if not isinstance(value, (str, int, float)):
                parsed[name] = value  # a path, a (h, w) size: as given
                continue
            text = value if isinstance(value, str) else str(value)  # numbers are checked as their text is
            if isinstance(value, bool) and declared[name].parse is not parse_bool:
                text = f"{value} (a yes/no, not a number)"
            try:
                parsed[name] = declared[name].parse(text)
            except ValueError as exc:
                reason = str(exc).removeprefix(f"{name} ")
                raise ValueError(f"engine option {name} {reason}") from None
        return parsed

    modules: tuple[str, ...] = ()
    """Python modules the engine imports beyond the core ones (installed by its ``extra``)."""

    @classmethod
    def missing(cls) -> list[str]:
        """What keeps the engine from loading here, one phrase each (empty when it is ready):
        model files missing or corrupt, modules of its extra not installed."""
        from importlib.util import find_spec

        from fusionmat.engines.weights import FETCH_HINT, file_status

        problems = [f"{name} {status} ({FETCH_HINT})" for name in cls.files
                    if (status := file_status(name)) != "ok"]
        absent = [m for m in cls.modules if find_spec(m) is None]
        if absent:
            problems.append(f"{', '.join(absent)} not installed (pip install 'fusionmat[{cls.extra}]')")
        return problems

    @classmethod
    def describe_options(cls) -> str:
        """One line per option (for --help and the server's engine list)."""
        return "; ".join(f"{option.name}: {option.help}" for option in cls.options)

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the grid the engine works on for an image of that size (default: that size)."""
        return height, width

    def settings(self) -> dict:
        """The engine's name and every option of this instance that changes its mattes."""
        return {"engine": self.name}

    tilt: bool = True
    """False for an engine that should see quarter turns only: rotate 'auto' then never turns the
    photo by less (the corners such a turn fills in are matted as subject by some networks)."""

    recurrent: bool = False
    """True for an engine that carries state from frame to frame inside :meth:`stream` (video)."""

    def stream(self):
        """A context within which :meth:`predict` sees the frames of a video in order (a
        recurrent engine carries its state; others ignore it)."""
        from contextlib import nullcontext

        return nullcontext(self)

    def cut(self) -> None:
        """A new shot begins (inside :meth:`stream`): forget what earlier frames showed."""
        return None  # stateless engines have nothing to forget

    @abstractmethod
    def predict(self, image: np.ndarray) -> np.ndarray:
        """Matte (or foreground probability) of one image.

        Parameters
        ----------
        image : HxWx3 RGB, uint8 or float32 in [0, 1].

        Returns
        -------
        float32 in [0, 1] on the grid ``input_size(H, W)`` (the image's aspect ratio); the
        pipeline brings it to HxW with the engine's ``upsample`` method.
        """
