"""Option stacks and error reporting shared by the commands."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from pathlib import Path

import click

from fusionmat.engines import DEFAULT_ENGINE, ENGINES
from fusionmat.errors import FusionmatError

REFINE_CHOICES = ("auto", "closed-form", "none")


def engine_options(command: Callable) -> Callable:
    """--engine, --weights, --refine and --threads."""
    options = [
        click.option("--engine", type=click.Choice(list(ENGINES)), default=DEFAULT_ENGINE, show_default=True,
                     help="Matting engine."),
        click.option("--weights", "weights_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Weights file for engines that take one (latefusion: the released .h5)."),
        click.option("--refine", type=click.Choice(REFINE_CHOICES), default="auto", show_default=True,
                     help="Refinement of the engine's output; auto = the engine's own choice."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="CPU threads for inference (default: all cores)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def build_engine(engine: str, weights_file: Path | None, threads: int | None):
    """Load the chosen engine once; a FusionmatError becomes a one-line CLI error."""
    from fusionmat.engines import load_engine

    options: dict = {"threads": threads}
    if weights_file is not None:
        if engine == "selfie":
            raise click.UsageError("--weights is for the latefusion engine; the selfie engine uses `fusionmat weights fetch`")
        options["weights"] = weights_file
    try:
        return load_engine(engine, **options)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None


def echo_error(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)


def echo_warning(message: str) -> None:
    click.secho(f"warning: {message}", fg="yellow", err=True)


def reporting_warnings(source: str, fn: Callable, *args, **kwargs):
    """Call ``fn`` and print each warning it raised as one line naming ``source``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    for w in caught:
        if issubclass(w.category, UserWarning):
            echo_warning(f"{source}: {w.message}")
    return result


def handles_library_errors(command: Callable) -> Callable:
    """Turn a FusionmatError that escapes a command into a one-line error and exit 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except FusionmatError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper
