"""``fusionmat engines``: the engines, their options (from each engine's declaration) and model files."""
from __future__ import annotations

import click


@click.command()
def engines() -> None:
    """List the engines, the options each takes (-E KEY=VALUE) and whether their model files are here.

    \b
    Example:
      fusionmat engines
      fusionmat predict photo.jpg --engine modnet -E long_side=640
    """
    from fusionmat.engines import DEFAULT_ENGINE, ENGINES, engine_class

    for name in ENGINES:
        cls = engine_class(name)
        missing = cls.missing()
        state = "ready" if not missing else "not ready: " + "; ".join(missing)
        click.echo(f"{name}{' (default)' if name == DEFAULT_ENGINE else ''}: {state}")
        for option in cls.options:
            click.echo(f"  -E {option.name}=...  {option.help}")
