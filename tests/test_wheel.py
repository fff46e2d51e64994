"""What users install: the wheel, built from the files the Dockerfile copies, installed
into a clean virtual environment, and driven from there — the CLI, a full demo
rollout, `report --html` and the dashboard's pages. An editable checkout hides files
the wheel leaves out (the dashboard's templates once did: every page answered 500).

The clean environment gets the wheel with --no-deps and finds the dependencies in the
test environment's site-packages through a .pth line (no network, no second install);
it is checked that `deployer` itself is imported from the installed wheel."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCKERFILE_COPIES = ("pyproject.toml", "README.md", "deployer", "strategies")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin/ folder of a venv holding only the built wheel."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in DOCKERFILE_COPIES:  # what the Dockerfile's build stage copies
        item = ROOT / name
        if item.is_dir():
            shutil.copytree(item, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(item, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "--wheel-dir", str(work / "dist"), str(source)], check=True)
    (wheel,) = (work / "dist").glob("deployer_aws-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True)
    # The dependencies (boto3, Jinja2, Starlette, moto, ...) from this test environment.
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    yield venv / "bin"


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEPLOYER_"))}
    return subprocess.run([str(bin_dir / "deployer"), *args], check=False, capture_output=True,
                          text=True,
                          cwd=cwd, env=env, timeout=120)


def test_the_wheel_carries_every_template(installed: Path) -> None:
    found = subprocess.run([str(installed / "python"), "-c",
                            "import deployer, pathlib; p = pathlib.Path(deployer.__file__)"
                            ".parent; print(p); print(sorted(str(t.relative_to(p)) for t in "
                            "p.rglob('*.j2')))"], capture_output=True, text=True, check=True,
                           cwd="/")
    location, templates = found.stdout.splitlines()
    assert location.startswith(str(installed.parent)), location  # not the checkout
    for name in ("dashboard/templates/runs.html.j2", "dashboard/templates/run.html.j2",
                 "display/templates/report.html.j2", "display/templates/chart.svg.j2",
                 "display/templates/style.css.j2"):
        assert name in templates


def test_the_installed_cli_validates_and_runs_the_demo(installed: Path, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    checked = run(installed, "validate", *map(str, sorted((tmp_path / "configs")
                                                          .glob("*.yaml"))), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    demo = run(installed, "demo", "--scenario", "rollback", "--yes", "--time-scale", "300",
               cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr  # the story was told: ...
    assert "rolled_back: alarm checkout-errors is in ALARM" in demo.stderr  # ... a rollback


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_installed_dashboard_and_report_render(installed: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from deployer.core.record import Outcome, Phase, RunRecord
    from deployer.store.file_store import FileStore

    store = FileStore(tmp_path / "store")
    record = RunRecord(run_id="shop-20261205T100000Z-abcd", plan_name="shop",
                       target_key="lambda:us-east-1:shop:live",
                       target={"kind": "lambda", "function": "shop", "alias": "live",
                               "stable_version": "1", "new_version": "2"}, plan={},
                       started_at="2026-12-05T10:00:00Z", phase=Phase.ROLLED_BACK,
                       outcome=Outcome.ROLLED_BACK, reason="alarm shop-5xx is in ALARM",
                       weight=0.0, ended_at="2026-12-05T10:05:00Z")
    record.add_event(datetime(2026, 12, 5, 10, 0, 5, tzinfo=UTC), "shifted to 10%")
    store.create(record)
    url = f"file://{tmp_path / 'store'}"
    report = run(installed, "report", record.run_id, "--html", str(tmp_path / "r.html"),
                 "--store", url, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "alarm shop-5xx is in ALARM" in (tmp_path / "r.html").read_text()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEPLOYER_"))}
    server = subprocess.Popen([str(installed / "deployer"), "dashboard", "--port", str(port),
                               "--store", url], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        pages = {}
        deadline = time.monotonic() + 60
        for path in ("/", f"/runs/{record.run_id}"):
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                                timeout=5) as answer:
                        pages[path] = (answer.status, answer.read().decode())
                    break
                except urllib.error.HTTPError as error:  # it answered: with what?
                    pages[path] = (error.code, error.read().decode())
                    break
                except OSError:
                    assert server.poll() is None, server.communicate()[1]
                    assert time.monotonic() < deadline, "the dashboard did not answer"
                    time.sleep(0.2)
        assert pages["/"][0] == 200, pages["/"]
        assert record.run_id in pages["/"][1]
        assert pages[f"/runs/{record.run_id}"][0] == 200
        assert "alarm shop-5xx is in ALARM" in pages[f"/runs/{record.run_id}"][1]
    finally:
        server.terminate()
        server.communicate(timeout=30)
