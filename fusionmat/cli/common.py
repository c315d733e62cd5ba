"""Option stacks and error reporting shared by the commands."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from fusionmat.engines import DEFAULT_ENGINE, ENGINES
from fusionmat.errors import FusionmatError, naming
from fusionmat.matting.refine import REFINE_CHOICES


@dataclass
class Console:
    """How much a command says: set by -q/--quiet, -v/--verbose and --no-progress."""

    quiet: bool = False
    verbose: bool = False
    progress: bool = True

    def info(self, message: str) -> None:
        """A note on stderr (counts, summaries); not with --quiet."""
        if not self.quiet:
            click.echo(message, err=True)

    def detail(self, message: str) -> None:
        """A line only --verbose shows (stderr)."""
        if self.verbose and not self.quiet:
            click.echo(message, err=True)

    def bar(self, total: int, *, min_items: int = 1):
        """A tqdm progress bar on stderr; off with --quiet, --no-progress, when stderr is not a
        terminal, or for fewer than ``min_items`` items."""
        import sys

        from tqdm import tqdm

        off = self.quiet or not self.progress or total < min_items
        return tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True, disable=True if off else None)


_CONSOLE = "fusionmat.console"


def console() -> Console:
    """The running command's :class:`Console` (defaults outside a command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return Console()
    return ctx.find_root().meta.setdefault(_CONSOLE, Console())


def _set_console(field_name: str, value):
    def callback(ctx: click.Context, param, flag):
        if flag:
            setattr(console(), field_name, value)
        return flag

    return callback


def output_options(command: Callable) -> Callable:
    """-q/--quiet, -v/--verbose and --no-progress (they set :func:`console`)."""
    options = [
        click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_console("quiet", True),
                     help="Print errors only."),
        click.option("-v", "--verbose", is_flag=True, expose_value=False, callback=_set_console("verbose", True),
                     help="Also print each image's steps and timing."),
        click.option("--no-progress", is_flag=True, expose_value=False, callback=_set_console("progress", False),
                     help="No progress bar (it is shown only on a terminal anyway)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def background_options(command: Callable, *, required: bool = False) -> Callable:
    """--bg, --fit, --format and --quality: composites on a new background."""
    from fusionmat.outputs.compose import FITS
    from fusionmat.outputs.plan import COMPOSITE_FORMATS

    options = [
        click.option("--bg", "background", required=required, default=None,
                     metavar="COLOUR|transparent|FILE|blur[:SIGMA]",
                     help="New background: a colour (#RGB, #RRGGBB, #RRGGBBAA, a name such as white), "
                          "transparent, a picture, or the photo's own background blurred (sigma per 1000 px "
                          "of the long side, default 25)." + ("" if required else " Writes <stem>_composite.*.")),
        click.option("--fit", type=click.Choice(FITS), default="cover", show_default=True,
                     help="How a background picture is fitted: cover (fill, crop the centre), contain (fit "
                          "inside, pad) or stretch."),
        click.option("--format", "composite_format", type=click.Choice(COMPOSITE_FORMATS), default="auto",
                     show_default=True,
                     help="Composite file type: auto = jpg, or png when the background is translucent."),
        click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True,
                     help="JPEG / WebP quality of composites."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def output_plan(*, cutout: bool = False, background: str | None = None, fit: str = "cover",
                composite_format: str = "auto", quality: int = 95, matte_and_preview: bool = True):
    """The OutputPlan for the options; a bad --bg or --format is a usage error."""
    from fusionmat.outputs.plan import OutputPlan

    loaded = background_or_exit(background, fit)
    try:
        return OutputPlan(cutout=cutout, background=loaded, composite_format=composite_format, quality=quality,
                          matte_and_preview=matte_and_preview)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--format") from None


def engine_options(command: Callable) -> Callable:
    """--engine, --weights, --refine and --threads."""
    options = [
        click.option("--engine", type=click.Choice(list(ENGINES)), default=DEFAULT_ENGINE, show_default=True,
                     help="Matting engine."),
        click.option("--weights", "weights_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Weights file for engines that take one (latefusion: the released .h5)."),
        click.option("--size", default=None, metavar="WIDTHxHEIGHT",
                     help="latefusion: force the inference size (multiples of 32, e.g. 608x800); "
                          "default keeps the aspect ratio with an 800 px long side."),
        click.option("--partial", is_flag=True,
                     help="latefusion: accept a weights file without the fusion layers (they stay untrained)."),
        click.option("--refine", type=click.Choice(REFINE_CHOICES), default="auto", show_default=True,
                     help="Refinement of the engine's output; auto = the engine's own choice."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="CPU threads for inference (default: all cores)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def preprocess_options(command: Callable) -> Callable:
    """--rotate, --crop, --aspect and --save-steps (the invertible preprocessing chain)."""
    options = [
        click.option("--rotate", default="auto", show_default=True, metavar="auto|none|DEG",
                     help="Turn the subject upright before matting: auto (from a person detector; "
                          "quarter turns always, tilts of 10 degrees or more), none, or degrees "
                          "counter-clockwise. The matte is turned back."),
        click.option("--crop", default="auto", show_default=True, metavar="auto|none|X,Y,W,H",
                     help="Crop to the people so they fill the engine's input: auto (from face "
                          "detection, only when they are small in the frame), none, or a box in "
                          "pixels of the upright image. The matte is zero outside."),
        click.option("--aspect", default="none", show_default=True, metavar="none|W:H",
                     help="The scene's true aspect ratio, for images squashed without keeping it "
                          "(e.g. 3:4 for a 512x512 thumbnail of a portrait photo)."),
        click.option("--save-steps", "steps_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Write what the engine saw after each step to this folder "
                          "(<stem>_1_rotate.jpg, <stem>_2_crop.jpg, ...)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def parse_preprocess_options(rotate: str, crop: str, aspect: str) -> dict:
    """--rotate, --crop and --aspect parsed; a bad value is a usage error naming its option."""
    from fusionmat.preprocess.chain import parse_aspect, parse_crop, parse_rotate

    parsed = {}
    for name, parse, text in (("rotate", parse_rotate, rotate), ("crop", parse_crop, crop),
                              ("aspect", parse_aspect, aspect)):
        try:
            parsed[name] = parse(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=f"--{name}") from None
    return parsed


def build_preprocessor(rotate: str, crop: str, aspect: str, threads: int | None):
    """A Preprocessor for the parsed options (None when every step is off); bad values are usage errors."""
    from fusionmat.preprocess.chain import build_preprocessor as build

    parsed = parse_preprocess_options(rotate, crop, aspect)
    try:
        return build(**parsed, threads=threads)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None


def steps_saver(steps_dir: Path | None, stem: str) -> Callable | None:
    """A callback for ``matte_image(on_steps=...)`` that writes each changing step's image."""
    if steps_dir is None:
        return None

    def save(steps) -> None:
        from fusionmat.io.write import save_image

        for number, step in enumerate((s for s in steps if s.changed), start=1):
            path = save_image(steps_dir / f"{stem}_{number}_{step.step}.jpg", step.image)
            click.echo(f"  step {number}: {step.step}, {step.detail} -> {path}")

    return save


def engine_matte(engine, refine: str, preprocessor, steps_dir: Path | None) -> Callable:
    """``alpha_for(path, rgb)`` for :func:`~fusionmat.outputs.plan.write_each`: the full pipeline,
    its warnings reported as one line naming the file, its steps saved when asked."""
    from fusionmat.matting.pipeline import matte_image

    def alpha_for(path: Path, rgb):
        return reporting_warnings(str(path), matte_image, rgb, engine, refine=refine, preprocessor=preprocessor,
                                  on_steps=steps_saver(steps_dir, path.stem))

    return alpha_for


def background_or_exit(text: str | None, fit: str):
    """The loaded ``--bg`` (None when not given); a bad value or unreadable picture is a usage error."""
    from fusionmat.outputs.plan import load_background

    if text is None:
        return None
    try:
        return load_background(text, fit)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bg") from None
    except FusionmatError as exc:
        raise click.BadParameter(f"background {exc}", param_hint="--bg") from None


def refine_method_or_exit(engine, refine: str) -> str:
    """The refinement ``--refine`` means for ``engine``; an unknown one is a usage error."""
    from fusionmat.matting.pipeline import refine_method

    try:
        return refine_method(engine, refine)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--refine") from None


OPTION_FLAGS = {"weights": "--weights", "size": "--size", "partial": "--partial"}
"""Engine options the commands take, by the name of the engine's keyword option."""


def engine_kwargs(engine: str, threads: int | None, **engine_options) -> dict:
    """The keyword options for :func:`fusionmat.engines.load_engine` from the command line's.

    ``engine_options`` are the options of :data:`OPTION_FLAGS` as given (None or False when
    not); giving one that the engine does not take (its ``options``) is a usage error.
    """
    from fusionmat.engines import engine_class

    cls = engine_class(engine)
    given = {k: v for k, v in engine_options.items() if v not in (None, False)}
    refused = [OPTION_FLAGS[k] for k in given if k not in cls.options]
    if refused:
        takers = [name for name in ENGINES if set(given) <= set(engine_class(name).options)]
        hint = f"; they are for --engine {' / '.join(takers)}" if takers else ""
        raise click.UsageError(f"{', '.join(refused)} do not apply to --engine {engine}{hint}")
    options: dict = {"threads": threads}
    for name, value in given.items():
        try:
            options[name] = cls.parse_option(name, value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=OPTION_FLAGS[name]) from None
    return options


def build_engine(engine: str, threads: int | None, **engine_options):
    """Load the chosen engine once (options as :func:`engine_kwargs`); a FusionmatError becomes a
    one-line CLI error."""
    return load_or_exit(engine, engine_kwargs(engine, threads, **engine_options))


def load_or_exit(engine: str, options: dict):
    """Load ``engine`` with parsed ``options`` (:func:`engine_kwargs`); errors and warnings as one line each."""
    from fusionmat.engines import load_engine

    try:
        return reporting_warnings(f"engine {engine}", load_engine, engine, **options)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None


def echo_error(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)


def echo_outcomes(outcomes, shown: str, total: int) -> None:
    """Print ``image -> output`` (or ``skipped``) for each :class:`~fusionmat.outputs.plan.Outcome`, or
    its one-line error, under a progress bar when there are many; at the end a ClickException
    (exit 1) says how many failed."""
    out = console()
    failed = 0
    with out.bar(total, min_items=2) as bar:
        for outcome in outcomes:
            with bar.external_write_mode():  # the bar steps aside for the line
                if outcome.error is not None:
                    failed += 1
                    echo_error(naming(outcome.image, outcome.error))
                elif not out.quiet:
                    note = " (up to date, skipped; --overwrite redoes it)" if outcome.skipped else ""
                    click.echo(f"{outcome.image} -> {outcome.outputs[shown]}{note}")
            bar.update(1)
    if failed:
        raise click.ClickException(f"{failed} of {total} image(s) failed")


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
