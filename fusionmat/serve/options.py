"""A request's parameters: parsed and checked before any work, each bad one a 400 naming it."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

OUTPUTS = {"cutout": "cutout", "matte": "matte", "composite": "composite", "concat": "preview"}
"""The ``output`` parameter and the kind :func:`fusionmat.outputs.plan.render` makes of it."""
FORMATS = {"png": ("PNG", "image/png"), "jpg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}


class HTTPError(Exception):
    """An answer other than 200: status and the words for ``{"error": ...}``."""

    def __init__(self, status: int, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


@dataclass(frozen=True)
class RequestOptions:
    """One request's choices, checked. ``rotate``, ``crop``, ``aspect`` are the texts (as on the
    command line); ``background``: the parsed ``bg`` or None."""

    output: str
    format: str
    fit: str
    quality: int
    bg: str | None
    rotate: str
    crop: str
    aspect: str
    mask: object = None
    """The mask controls (:class:`fusionmat.matting.mask.MaskSettings`), or None."""

    @property
    def kind(self) -> str:
        return OUTPUTS[self.output]

    @property
    def preprocessing(self) -> tuple[str, str, str]:
        return self.rotate, self.crop, self.aspect


def whole(text: str) -> bool:
    """True for a whole number written in ASCII digits ('²' and '٣' are digits to Python, not to HTTP)."""
    return text.isascii() and text.isdigit()


def _choice(params: dict, name: str, choices, default: str) -> str:
    value = params.get(name) or default
    if value not in choices:
        raise HTTPError(400, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def parse_request_options(params: dict, defaults, *, has_picture: bool = False) -> RequestOptions:
    """The request's options from ``params`` (query and form), ``defaults`` (a ServeSettings) for
    rotate/crop/aspect; HTTPError 400 naming a bad one. ``has_picture``: a background picture
    was uploaded (field ``background``)."""
    from fusionmat.outputs.compose import FITS, parse_background
    from fusionmat.preprocess.chain import parse_aspect, parse_crop, parse_rotate

    output = _choice(params, "output", OUTPUTS, "cutout")
    fmt = _choice(params, "format", FORMATS, "png")
    fit = _choice(params, "fit", FITS, "cover")
    text = params.get("quality", "95")
    if not (whole(text) and 1 <= int(text) <= 100):
        raise HTTPError(400, f"quality must be 1-100, got {text!r}")
    chosen = {}
    for name, parse in (("rotate", parse_rotate), ("crop", parse_crop), ("aspect", parse_aspect)):
        chosen[name] = params.get(name) or getattr(defaults, name)
        try:
            parse(chosen[name])
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
    bg = params.get("bg") or None
    if output == "composite" and bg is None and not has_picture:
        raise HTTPError(400, "output=composite needs bg (a colour, transparent, blur[:SIGMA]) "
                             "or a background picture (field 'background')")
    translucent = False
    if bg is not None:
        try:
            translucent = parse_background(bg, files=False).translucent
        except ValueError as exc:
            raise HTTPError(400, f"{exc} (a picture: upload it as field 'background')") from None
    if fmt == "jpg" and (output == "cutout" or (output == "composite" and translucent and not has_picture)):
        raise HTTPError(400, f"format=jpg cannot hold the {output}'s transparency; use png or webp")
    from fusionmat.matting.mask import OPTIONS, parse_mask

    try:
        given = {name: params.get(name) for name in OPTIONS if params.get(name)}
        if "trim" in params and not params["trim"]:
            given["trim"] = "0"  # ?trim alone, as a bare --trim: no margin
        mask = parse_mask(given)
    except ValueError as exc:
        raise HTTPError(400, str(exc)) from None
    return RequestOptions(output, fmt, fit, int(text), bg, **chosen, mask=mask)


def check_output_size(options: RequestOptions, width: int, height: int) -> None:
    """HTTPError 400 when the answer for a ``width`` x ``height`` photo is over what its format
    holds (a concat is twice as wide), before any work."""
    from fusionmat.errors import OutputError
    from fusionmat.io.write import check_side

    try:
        check_side(FORMATS[options.format][0], width * (2 if options.kind == "preview" else 1), height, "answer")
    except OutputError as exc:
        raise HTTPError(400, str(exc).removeprefix("answer: ").replace("use .png", "use format=png")) from None


def request_plan(options: RequestOptions, picture: np.ndarray | None):
    """The output plan of one request: its background (a colour, blur, or the uploaded picture) and quality."""
    from fusionmat.outputs.compose import Background, parse_background
    from fusionmat.outputs.plan import LoadedBackground, OutputPlan

    background = None
    if picture is not None:
        background = LoadedBackground(Background(path=Path("background")), picture, options.fit)
    elif options.bg is not None:
        background = LoadedBackground(parse_background(options.bg, files=False), None, options.fit)
    return OutputPlan(background=background, composite_format="png", quality=options.quality, mask=options.mask)
