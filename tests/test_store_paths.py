"""Where the file store lives, as a container step meets it: a mounted checkout that the
image's uid cannot write (the default store falls back to a private temp folder, said
loudly, instead of failing), and `store init file://DIR` that creates the store or
fails with exit 2 — never "ready" for a folder it did not create."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

NOBODY = 65534


def as_another_user(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as a uid that does not own `cwd` (root writes anywhere, so the test
    drops to nobody; a non-root user is already another uid than a 0555 folder's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEPLOYER_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["HOME"] = "/nonexistent"  # as in an image run with --user: no home of its own
    extra = {"user": NOBODY, "group": NOBODY} if os.getuid() == 0 else {}
    return subprocess.run([sys.executable, "-m", "deployer", *args], check=False, cwd=cwd,
                          env=env,
                          capture_output=True, text=True, timeout=60, **extra)


@pytest.fixture
def read_only_checkout() -> Iterator[Path]:
    # Not under pytest's tmp_path: its parents are private to the user running pytest.
    base = Path(tempfile.mkdtemp(prefix="deployer-ro-"))
    base.chmod(0o755)
    folder = base / "checkout"
    folder.mkdir()
    (folder / "plan.yaml").write_text((ROOT / "configs" / "lambda-canary.yaml").read_text())
    folder.chmod(0o555)
    try:
        probe = as_another_user(["--version"], folder)
    except PermissionError as exc:
        pytest.skip(f"the CLI cannot start as another user here: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"the CLI cannot start as another user here: {probe.stderr[-200:]}")
    yield folder
    folder.chmod(0o755)
    shutil.rmtree(base, ignore_errors=True)


def test_a_checkout_the_uid_cannot_write_uses_a_private_store_and_says_so(
        read_only_checkout: Path) -> None:
    listed = as_another_user(["list", "--all"], read_only_checkout)
    assert listed.returncode == 0, listed.stderr
    assert "cannot write the default store .deployer" in listed.stderr
    assert "--store dynamodb://TABLE" in listed.stderr
    assert 'docker run --user "$(id -u):$(id -g)"' in listed.stderr
    assert "Traceback" not in listed.stderr
    assert not (read_only_checkout / ".deployer").exists()


def test_store_init_creates_the_folders(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    created = run_cli("store", "init", f"file://{tmp_path / 'runs-store'}")
    assert created.returncode == 0, created.stderr
    assert "created" in created.stdout
    assert (tmp_path / "runs-store" / "runs").is_dir()
    assert (tmp_path / "runs-store" / "locks").is_dir()
    again = run_cli("store", "init", f"file://{tmp_path / 'runs-store'}")
    assert again.returncode == 0 and "already existed" in again.stdout


def test_store_init_where_it_cannot_write_is_exit_2(read_only_checkout: Path) -> None:
    refused = as_another_user(["store", "init", "file://inside"], read_only_checkout)
    assert refused.returncode == 2, refused.stderr
    assert "cannot create the store at inside: Permission denied" in refused.stderr
    assert "ready" not in refused.stdout
    assert not (read_only_checkout / "inside").exists()


def in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from deployer.cli.main import main

    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_fallback_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The same as the test above wherever it cannot run as another uid: root may write
    anywhere, so the working folder is made to read as not writable (os.access)."""
    import deployer.store as stores

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)
    monkeypatch.delenv("DEPLOYER_STORE", raising=False)
    monkeypatch.setattr(stores.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    real_access = os.access
    monkeypatch.setattr(stores.os, "access", lambda path, mode: False
                        if Path(path).resolve() == checkout.resolve()
                        else real_access(path, mode))
    monkeypatch.setattr(stores, "_WARNED", [])
    code, _, err = in_process(["list", "--all"], capsys)
    assert code == 0, err
    fallback = tmp_path / "tmp" / f"deployer-store-{os.getuid()}"
    assert f"cannot write the default store .deployer in {checkout}" in err
    assert f"using {fallback} instead" in err
    assert not (checkout / ".deployer").exists()
    code, _, err = in_process(["store", "init", "file://.deployer"], capsys)  # explicit:
    assert code == 0, err                                                    # as asked
    assert (checkout / ".deployer" / "runs").is_dir()


def test_store_init_of_a_folder_that_cannot_exist_is_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, out, err = in_process(["store", "init", f"file://{blocker}/store"], capsys)
    assert code == 2, err
    assert f"cannot create the store at {blocker}/store: Not a directory" in err
    assert "ready" not in out and "created" not in out
