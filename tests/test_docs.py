"""The README's promises: two set-up commands first, the second one is what CI runs."""
from __future__ import annotations

import re

from tests.conftest import ROOT


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def test_readme_starts_with_run_and_test_commands():
    run, test = readme_commands()[:2]
    assert "fusionmat weights fetch" in run and "fusionmat predict" in run and "astronaut" in run
    assert "pytest" in test and "fusionmat weights fetch" in test


def test_ci_runs_the_readme_test_command():
    test = readme_commands()[1]
    assert test in (ROOT / ".ci" / "run").read_text()


def test_every_command_is_documented():
    from fusionmat.cli import main

    readme = (ROOT / "README.md").read_text()
    for name in main.commands:
        assert f"fusionmat {name}" in readme
