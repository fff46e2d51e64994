"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright
(no browser download: `make test` installs the system package when it is missing, and
this test is skipped, saying so, where it could not). The runs list, a waiting run,
approving it by clicking (and confirming), with no console error; the screenshots are
the ones in docs/dashboard.md."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from deployer.core.record import Phase, RunRecord
from deployer.store.file_store import FileStore
from tests.conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine "
                                "(make test installs Debian's package when it can)")
RUN = "shop-20261128T100000Z-aaaa"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, FileStore]]:
    import uvicorn

    from deployer.dashboard.app import create_app

    store = FileStore(tmp_path / "store")
    record = RunRecord(run_id=RUN, plan_name="shop", target_key="k", target={
        "kind": "lambda", "function": "shop", "alias": "live", "stable_version": "6",
        "new_version": "7"}, plan={}, started_at="2026-11-28T10:00:00Z",
        phase=Phase.AWAITING_APPROVAL)
    for second, weight, message in ((2, 0.0, "run started"), (5, 10.0, "shifted to 10%"),
                                    (6, 10.0, "bake 5m started"),
                                    (40, 10.0, "waiting for approval (timeout 1h)")):
        record.weight = weight
        record.add_event(datetime(2026, 11, 28, 10, 0, second), message)
    store.create(record)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(store, "tester"), host="127.0.0.1",
                                           port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store
    server.should_exit = True
    thread.join(timeout=10)


def test_approve_a_waiting_run_by_clicking(dashboard: tuple[str, FileStore]) -> None:
    from playwright.sync_api import sync_playwright

    url, store = dashboard
    errors: list[str] = []
    images = ROOT / "docs" / "images"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(url + "/")
        page.screenshot(path=str(images / "dashboard-runs.png"))
        page.click(f"text={RUN}")
        page.wait_for_selector("polyline")
        page.screenshot(path=str(images / "dashboard-run.png"), full_page=True)
        page.click("#approve")
        page.wait_for_load_state()
        browser.close()
    (request,) = store.load(RUN).requests
    assert (request["action"], request["by"]) == ("approve", "tester (dashboard)")
    assert errors == []
