"""Photos with nobody in them, and photos of people: does each engine tell them apart?

An engine returns an empty matte, and the pipeline warns, when its person check
(:class:`fusionmat.matting.people.PersonCheck`) finds no face and body on the person
segmentation. This prints, per engine and with the default preprocessing off and on:

- false "no person" on every photo of ../shared/bench/{plain,rotated,small,squashed}, the
  released project's samples, scikit-image's astronaut and camera, and the astronaut turned
  a quarter, half and three quarters and pasted small into coffee (all have a person);
- for scikit-image's pictures without a person, the mean alpha with the check off (the matte
  before it existed) and on, and whether the warning came;
- the time the check adds per image, on the photos of people.

Usage:
    python benchmarks/no_person.py [--engine modnet --engine selfie] [--threads 2]
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from fusionmat.engines import load_engine
from fusionmat.io.read import read_image
from fusionmat.matting.pipeline import matte_image, run_engine
from fusionmat.matting.refine import NoSubjectWarning
from fusionmat.preprocess.chain import build_preprocessor

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
BENCH_SETS = ("plain", "rotated", "small", "squashed")
WITH_PEOPLE = ("astronaut.png", "camera.png")
WITHOUT_PEOPLE = ("coffee.png", "chelsea.png", "rocket.jpg", "coins.png", "ihc.png", "hubble_deep_field.jpg",
                  "motorcycle_left.png", "moon.png", "retina.jpg", "horse.png", "clock_motion.png", "color.png",
                  "logo.png", "cell.png", "microaneurysms.png", "phantom.png", "chessboard_RGB.png", "brick.png",
                  "grass.png", "gravel.png", "text.png", "page.png")
"""scikit-image's pictures by file name (``ihc.png`` is immunohistochemistry); missing ones are skipped."""


def skimage_files(names: tuple[str, ...]) -> list[Path]:
    """The files of scikit-image's data folder among ``names`` that are present."""
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    return [folder / name for name in names if (folder / name).is_file()]


def astronaut_variants() -> dict[str, np.ndarray]:
    """The astronaut turned by quarters (no preprocessing has to undo it) and pasted small into coffee."""
    from skimage import data

    from fusionmat.matting.resize import resize_to

    astronaut = data.astronaut()
    scene = resize_to(data.coffee(), 512, 512).copy()
    scene[307:, 200:405] = resize_to(astronaut, 205, 205)
    turned = {f"turned {90 * q}": np.ascontiguousarray(np.rot90(astronaut, q)) for q in (1, 2, 3)}
    return {**turned, "small in coffee": scene}


def people_photos(shared: Path) -> dict[str, dict[str, Callable[[], np.ndarray]]]:
    """Every photo with a person, by group (the bench sets, the released samples, scikit-image's,
    the astronaut's variants): name -> a loader of the uint8 RGB image."""
    def loaders(paths: list[Path]) -> dict[str, Callable[[], np.ndarray]]:
        return {p.name: (lambda p=p: read_image(p, dtype=np.uint8)) for p in paths}

    groups = {name: loaders(sorted((shared / "bench" / name / "image").glob("*.png"))) for name in BENCH_SETS}
    samples = shared / "samples" / "test_images"
    groups["samples"] = loaders([p for p in sorted(samples.glob("*.jpg"))
                                 if not p.stem.endswith(("_concat", "_matting"))])
    groups["skimage"] = loaders(skimage_files(WITH_PEOPLE))
    groups["astronaut variants"] = {name: (lambda image=image: image) for name, image in astronaut_variants().items()}
    return {name: photos for name, photos in groups.items() if photos}


class TimedCheck:
    """A person check that records how long each call took (seconds)."""

    def __init__(self, check) -> None:
        self.check = check
        self.seconds: list[float] = []

    def __call__(self, *args, **kwargs) -> bool:
        start = time.perf_counter()
        try:
            return self.check(*args, **kwargs)
        finally:
            self.seconds.append(time.perf_counter() - start)


def holder(engine):
    """The object whose ``check`` attribute is the engine's person check (modnet keeps it in its
    person segmenter, selfie on itself)."""
    return engine.people if getattr(engine, "people", None) is not None else engine


def mean_alpha(image: np.ndarray, engine, preprocessor) -> tuple[float, bool]:
    """Mean of the final matte, and whether the no-person warning came."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        alpha = matte_image(image, engine, preprocessor=preprocessor)
    return float(alpha.mean()), any(issubclass(w.category, NoSubjectWarning) for w in caught)


@click.command()
@click.option("--engine", "engines", multiple=True, default=("modnet", "selfie"), show_default=True)
@click.option("--threads", type=int, default=2, show_default=True)
@click.option("--shared", type=click.Path(exists=True, file_okay=False, path_type=Path), default=SHARED,
              show_default=True, help="The shared data folder (bench sets and samples).")
def main(engines: tuple[str, ...], threads: int, shared: Path) -> None:
    groups = people_photos(shared)
    empty = skimage_files(WITHOUT_PEOPLE)
    for name in engines:
        engine = load_engine(name, threads=threads)
        owner = holder(engine)
        check = owner.check
        modes = {"off": None, "on": build_preprocessor(threads=threads)}
        for mode, preprocessor in modes.items():
            timed = TimedCheck(check)
            owner.check = timed
            line, passes = [], []
            for group, photos in groups.items():
                missed = []
                for photo, load in photos.items():
                    image = load()
                    start = time.perf_counter()
                    if not run_engine(image, engine, preprocessor=preprocessor).found:
                        missed.append(photo)
                    passes.append(time.perf_counter() - start)
                line.append(f"{group} {len(missed)}/{len(photos)}" + (f" {missed}" if missed else ""))
            ms = 1000 * np.array(timed.seconds)
            click.echo(f"{name}, preprocessing {mode}: false 'no person': " + ", ".join(line))
            click.echo(f"{name}, preprocessing {mode}: check adds {ms.mean():.1f} ms per image "
                       f"(median {np.median(ms):.1f}, max {ms.max():.1f}; {len(ms)} photos of people), "
                       f"preprocessing + engine take {1000 * np.mean(passes):.0f} ms with it")
            click.echo(f"{'picture':24s} {'before':>7s} {'after':>7s} warned")
            for path in empty:
                image = read_image(path, dtype=np.uint8)
                owner.check = None
                before, _ = mean_alpha(image, engine, preprocessor)
                owner.check = check
                after, warned = mean_alpha(image, engine, preprocessor)
                click.echo(f"{path.name:24s} {before:7.3f} {after:7.3f} {'yes' if warned else 'NO'}")
            owner.check = check


if __name__ == "__main__":
    main()
