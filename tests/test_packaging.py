"""The wheel ships every package: a subpackage left out breaks `docker run deployer …`."""

from __future__ import annotations

import tomllib

from setuptools import find_packages

from tests.conftest import ROOT


def test_every_package_on_disk_is_in_the_distribution() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = set(find_packages(where=str(ROOT), include=include))
    on_disk = {str(p.parent.relative_to(ROOT)).replace("/", ".")
               for top in ("deployer", "strategies") for p in (ROOT / top).rglob("__init__.py")}
    assert on_disk <= shipped
    assert "tests" not in shipped


def test_the_distribution_is_not_the_unrelated_deployer_on_pypi() -> None:
    """`deployer` on PyPI is another project (2014): every install line names ours."""
    import re

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["project"]["name"] == "deployer-aws"
    assert config["project"]["scripts"] == {"deployer": "deployer.cli.main:main"}
    for doc in [ROOT / "README.md", ROOT / "action.yml", *(ROOT / "docs").glob("*.md")]:
        for number, line in enumerate(doc.read_text().splitlines(), start=1):
            if re.search(r"pip install (-\S+ )*deployer(?![-\w])", line):
                assert "never" in line, f"{doc.name}:{number}: {line}"
