"""The wheel ships every package: a subpackage left out breaks `docker run deployer …`."""

from __future__ import annotations

import tomllib

import pytest
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


def test_the_image_pins_every_dependency_it_installs() -> None:
    """constraints/image.txt (make lock) pins each runtime and dashboard dependency at a
    version pyproject.toml allows, and the Dockerfile installs with it."""
    from packaging.requirements import Requirement

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [Requirement(r) for r in [*config["project"]["dependencies"],
                                       *config["project"]["optional-dependencies"]["dashboard"]]]
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints" / "image.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[name.lower().replace("_", "-")] = version
    for requirement in wanted:
        pinned = pins.get(requirement.name.lower().replace("_", "-"))
        assert pinned is not None, f"{requirement.name} is not pinned for the image"
        assert requirement.specifier.contains(pinned), f"{requirement} vs =={pinned}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY constraints/image.txt" in dockerfile
    assert "--constraint /wheels/constraints.txt" in dockerfile


def test_docs_ci_shows_the_image_as_the_dockerfile_builds_it() -> None:
    import re

    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = set(re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE))
    assert len(bases) == 1
    ci = (ROOT / "docs" / "ci.md").read_text()
    assert f"`{bases.pop()}`" in ci  # the base image the docs name is the one built
    run = next(line for line in ci.splitlines() if line.startswith("docker run"))
    assert '--user "$(id -u):$(id -g)"' in run  # a runner's workspace is its own uid's
    assert "[demo]" not in dockerfile and "demo" in ci  # the image leaves the demo out, said


def test_the_demo_without_moto_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from deployer.demo.server import local_aws
    from deployer.errors import UsageError

    real_import = builtins.__import__

    def without_moto(name: str, *args: object, **kwargs: object) -> object:
        if name == "moto" or name.startswith("moto."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", without_moto)
    with pytest.raises(UsageError) as refused, local_aws():
        pass
    assert "leaves out (so does the container image" in refused.value.message
    assert refused.value.hint and "deployer-aws[demo]" in refused.value.hint
