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
