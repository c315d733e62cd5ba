"""Option stacks and error reporting shared by the commands."""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from fusionmat.engines import DEFAULT_ENGINE, ENGINES
from fusionmat.errors import FusionmatError
from fusionmat.limits import MAX_THREADS
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
                     help="Say more (for images: each one's preprocessing steps and seconds per stage)."),
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


def mask_options(command: Callable) -> Callable:
    """--threshold, --erode, --dilate, --feather and --trim (declared in
    :data:`fusionmat.matting.mask.OPTIONS`), handed to the command as one ``mask`` argument
    (a MaskSettings, or None); a bad value is a usage error naming its option."""
    import functools

    from fusionmat.matting.mask import OPTIONS, parse_mask

    chosen = list(OPTIONS)

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            given = {name: kwargs.pop(name) for name in chosen}
            try:
                kwargs["mask"] = parse_mask(given)
            except ValueError as exc:
                name = str(exc).split(" ", 1)[0]
                raise click.BadParameter(str(exc).removeprefix(name + " "), param_hint=f"--{name}") from None
            return function(*args, **kwargs)

        for name in reversed(chosen):
            _, metavar, _, help_text = OPTIONS[name]
            extra = {"is_flag": False, "flag_value": "0"} if name == "trim" else {}
            wrapper = click.option(f"--{name}", default=None, metavar=metavar, help=help_text[0].upper() + help_text[1:]
                                   + ".", **extra)(wrapper)
        return wrapper

    return decorate(command)


def output_plan(*, cutout: bool = False, background: str | None = None, fit: str = "cover",
                composite_format: str = "auto", quality: int = 95, matte_and_preview: bool = True,
                only: str | None = None, mask=None):
    """The OutputPlan for the options; a bad --bg, --format or --only is a usage error."""
    from fusionmat.outputs.plan import OutputPlan, parse_only

    try:
        kinds = parse_only(only)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--only") from None
    loaded = background_or_exit(background, fit)
    try:
        return OutputPlan(cutout=cutout, background=loaded, composite_format=composite_format, quality=quality,
                          matte_and_preview=matte_and_preview, only=kinds, mask=mask)
    except ValueError as exc:
        hint = "--only" if str(exc).startswith(("only", "composite needs")) else "--format"
        raise click.BadParameter(str(exc), param_hint=hint) from None


def _set_device(ctx: click.Context, param, value):
    """--device goes to every engine this process loads (and its Ray workers) through $FUSIONMAT_DEVICE."""
    if value:
        import os

        from fusionmat.engines.device import ENV_DEVICE

        os.environ[ENV_DEVICE] = value
    return value


def engine_options(command: Callable) -> Callable:
    """--engine, -E/--engine-opt, --refine and --threads."""
    options = [
        click.option("--engine", type=click.Choice(list(ENGINES)), default=DEFAULT_ENGINE, show_default=True,
                     help="Matting engine."),
        click.option("-E", "--engine-opt", "engine_opts", multiple=True, metavar="KEY=VALUE",
                     help="An option of the engine, repeatable (e.g. -E weights=latefusion.h5, "
                          "-E long_side=640); `fusionmat engines` lists each engine's options."),
        click.option("--refine", type=click.Choice(REFINE_CHOICES), default="auto", show_default=True,
                     help="Refinement of the engine's output; auto = the engine's own choice."),
        click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=None,
                     help="CPU threads for inference (default: all cores)."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None, expose_value=False,
                     envvar="FUSIONMAT_DEVICE", callback=_set_device,
                     help="Where modnet, rvm and fusion run: auto (CUDA when onnxruntime-gpu has it, else the CPU), "
                          "cpu or cuda.  [default: $FUSIONMAT_DEVICE, else auto]"),
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


def engine_kwargs(engine: str, threads: int | None, engine_opts: tuple[str, ...] = ()) -> dict:
    """The keyword options for :func:`fusionmat.engines.load_engine` from ``--threads`` and the
    ``-E KEY=VALUE`` pairs, parsed and checked by the engine's own declaration (a usage error
    naming the option otherwise)."""
    from fusionmat.engines import engine_class

    given = {}
    for pair in engine_opts:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--engine-opt")
        given[key.strip()] = value
    try:
        options = engine_class(engine).parse_options(given)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--engine-opt") from None
    return {"threads": threads, **options}


def build_engine(engine: str, threads: int | None, engine_opts: tuple[str, ...] = ()):
    """Load the chosen engine once (options as :func:`engine_kwargs`); errors as one line."""
    return load_or_exit(engine, engine_kwargs(engine, threads, engine_opts))


def load_or_exit(engine: str, options: dict):
    """Load ``engine`` with parsed ``options`` (:func:`engine_kwargs`); errors and warnings as one line each."""
    from fusionmat.engines import load_engine

    try:
        loaded = reporting_warnings(f"engine {engine}", load_engine, engine, **options)
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None
    session = getattr(loaded, "session", None)
    where = session.get_providers()[0] if hasattr(session, "get_providers") else "CPU"
    console().detail(f"engine {engine} runs on {where}")
    return loaded


def session_or_exit(engine: str, threads: int | None, refine: str, plan, *, rotate: str = "none",
                    crop: str = "none", aspect: str = "none", steps_dir: Path | None = None,
                    engine_opts: tuple[str, ...] = ()):
    """(:class:`~fusionmat.run.batch.SessionSpec`, its built session) from the command's options: the
    engine loaded once; a bad option is a usage error naming it, an unusable engine one line."""
    from fusionmat.preprocess.chain import Settings
    from fusionmat.run.batch import SessionSpec

    options = engine_kwargs(engine, threads, engine_opts)
    options.pop("threads", None)
    settings = Settings(**parse_preprocess_options(rotate, crop, aspect))
    spec = SessionSpec(engine, options, refine, settings, plan, threads)
    loaded = load_or_exit(engine, {"threads": threads, **options})
    try:
        return spec, spec.build(loaded, steps_dir=steps_dir)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--refine") from None
    except FusionmatError as exc:
        raise click.ClickException(str(exc)) from None


class Progress:
    """Shows a run's outcomes: one line per failure and warning, ``image -> output`` per image
    when ``each`` (predict, compose), each image's steps and timing with -v, and a progress bar
    (on a terminal, for ``min_items`` images or more). Counts what failed."""

    def __init__(self, total: int | None = None, *, shown: str | None = None, each: bool = True,
                 min_items: int = 2) -> None:
        self.out = console()
        self.min_items = min_items
        self.bar = self.out.bar(0 if total is None else total, min_items=min_items if total is not None else 1 << 62)
        self.shown, self.each, self.failed = shown, each, 0

    def start(self, total: int) -> None:
        """Show the bar for ``total`` images (when the count is known only after planning)."""
        self.bar.close()
        self.bar = self.out.bar(total, min_items=self.min_items)

    def __call__(self, outcome) -> None:
        from fusionmat.run.process import FAILED, SKIPPED

        with self.bar.external_write_mode():  # the bar steps aside for the line
            if outcome.status == FAILED:
                self.failed += 1
                echo_error(outcome.error)
            elif outcome.status == SKIPPED:
                if self.each and not self.out.quiet:
                    click.echo(f"{outcome.image} -> {self._target(outcome)} (up to date, skipped; "
                               "--overwrite redoes it)")
            else:
                if outcome.warning and not self.out.quiet:
                    echo_warning(f"{outcome.image}: {outcome.warning}")
                if self.each and not self.out.quiet:
                    click.echo(f"{outcome.image} -> {self._target(outcome)}")
            if outcome.status != SKIPPED:
                for line in outcome.saved:
                    self.out.info(f"  {line}")
            if outcome.status not in (SKIPPED, FAILED):
                self.out.detail(describe_steps(outcome))
        self.bar.update(1)

    def _target(self, outcome) -> str:
        """The outputs written, the one named by ``shown`` first."""
        outputs = dict(outcome.job.outputs)
        first = outputs.pop(self.shown, None)
        return ", ".join(str(p) for p in ([first] if first is not None else []) + list(outputs.values()))

    def close(self) -> None:
        self.bar.close()


def describe_steps(outcome) -> str:
    """What -v prints for one image: its preprocessing steps and the seconds of each stage."""
    times = ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in outcome.seconds.items())
    steps = "; ".join(outcome.steps) or "no preprocessing"
    return f"  {outcome.image}: {steps}; {times}"


def run_planned(planned, session, *, shown: str, workers: int = 2) -> None:
    """Do the jobs of ``planned`` (:func:`fusionmat.run.planning.plan_jobs`) on local threads,
    showing each outcome (:class:`Progress`); exit 130 when interrupted (after what was in
    progress is finished), 1 when an image failed."""
    from fusionmat.run.batch import run_local
    from fusionmat.run.process import FAILED, SKIPPED, Job, Outcome

    total = len(planned.jobs) + len(planned.skipped) + len(planned.failed)
    progress = Progress(total, shown=shown)
    try:
        for image, reason in planned.failed:
            progress(Outcome(Job(image), FAILED, reason))
        for job in planned.skipped:
            progress(Outcome(job, SKIPPED))
        interrupted = run_local(planned.jobs, session, workers=workers, on_outcome=progress)
    finally:
        progress.close()
    if interrupted:
        raise KeyboardInterrupt
    if progress.failed:
        raise click.ClickException(f"{progress.failed} of {total} image(s) failed")


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
