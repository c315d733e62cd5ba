"""Typed exceptions raised by the library; only the CLI turns them into exit codes."""
from __future__ import annotations


class FusionmatError(Exception):
    """Base class of every error fusionmat raises on purpose."""


class ImageReadError(FusionmatError):
    """An input file could not be read as an image (missing, unreadable, corrupt, too small...)."""


class WeightsError(FusionmatError):
    """Model weights are missing, corrupt (checksum mismatch) or do not fit the network."""


class OutputError(FusionmatError):
    """An output could not be written, or writing it would overwrite an input."""


class BudgetError(ImageReadError):
    """An image (or a working copy of it, or a stream) is over the resource budget (:mod:`fusionmat.limits`)."""


class MissingDependencyError(FusionmatError):
    """An optional dependency (a pip extra such as ``fusionmat[latefusion]``) is not installed."""


class Cancelled(FusionmatError):
    """The work for an image was called off before it was done (a server's client went away)."""


class StepError(FusionmatError, ValueError):
    """A preprocessing step given explicitly cannot be applied to this image (a crop box outside it)."""


def naming(path, exc: Exception | str) -> str:
    """The error's message, led by ``path`` unless it already names it (one line per file)."""
    text = str(exc)
    return text if str(path) in text else f"{path}: {text}"
