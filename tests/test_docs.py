"""The README's promises: two set-up commands first, the second one is what CI runs; CI lints, and
installs against constraints.txt, which pins everything the package and its test extra declare."""
from __future__ import annotations

import re
import tomllib

from tests.conftest import ROOT

LINT = "ruff check fusionmat tests benchmarks"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)


def ci_commands() -> list[str]:
    """.ci/run's lines that run something: no comments, no blank lines."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return canonical(re.split(r"[<>=!~;\[ ]", requirement)[0])


def test_readme_starts_with_run_and_test_commands():
    run, test = readme_commands()[:2]
    assert "fusionmat weights fetch" in run and "fusionmat predict" in run and "astronaut" in run
    assert "pytest" in test and "fusionmat weights fetch" in test
    assert 'pip install -e ".[test]" -c constraints.txt' in test


def test_ci_runs_the_readme_test_command():
    test = readme_commands()[1]
    assert any(line.startswith(test) for line in ci_commands())  # run, not only quoted in a comment


def test_ci_lints():
    assert any(line.startswith(LINT) for line in ci_commands())
    assert "ruff" in map(requirement_name, pyproject()["project"]["optional-dependencies"]["test"])


def test_constraints_pin_every_declared_requirement():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not a pin (name==version)"
            pins[canonical(name)] = version
    project = pyproject()["project"]
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    names = set(map(requirement_name, declared)) - {"fusionmat"}
    assert names and not names - pins.keys(), f"not pinned in constraints.txt: {sorted(names - pins.keys())}"
    assert "fusionmat" not in pins


def test_extras_and_package_data():
    config = pyproject()
    extras = config["project"]["optional-dependencies"]
    assert {"latefusion", "export", "url", "ray", "serve", "video", "test"} <= extras.keys()
    assert config["project"]["scripts"] == {"fusionmat": "fusionmat.cli:main"}
    for pattern in config["tool"]["setuptools"]["package-data"]["fusionmat"]:
        matches = [p for p in (ROOT / "fusionmat").glob(pattern) if p.is_file()]  # a dangling link is no file
        assert matches, f"package data {pattern!r} matches no file"


def test_every_command_is_documented():
    from fusionmat.cli import main

    readme = (ROOT / "README.md").read_text()
    for name in main.commands:
        assert f"fusionmat {name}" in readme


def test_the_readme_stays_short_and_every_page_of_the_manual_is_in_the_site():
    import yaml

    readme = (ROOT / "README.md").read_text().splitlines()
    assert len(readme) <= 200, f"README.md has {len(readme)} lines; the manual is docs/"
    site = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = {next(iter(entry.values())) for entry in site["nav"]}
    on_disk = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == on_disk, f"in docs/ but not in mkdocs.yml's nav, or the other way: {pages ^ on_disk}"
    assert "mkdocs build --strict" in (ROOT / ".ci" / "run").read_text()
