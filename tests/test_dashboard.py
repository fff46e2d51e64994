"""The dashboard's routes with Starlette's test client, over a real file store: the runs
list (active first), a run page with the chart, the operator buttons writing the same
requests as the CLI verbs, CSRF, the token, and 4xx on bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from deployer.core.record import Phase, RunRecord
from deployer.dashboard.app import create_app
from deployer.store.file_store import FileStore
from tests.conftest import run_cli


def stored(tmp_path: Path) -> FileStore:
    store = FileStore(tmp_path / "store")
    waiting = RunRecord(run_id="shop-20261128T100000Z-aaaa", plan_name="shop",
                        target_key="k1", target={"kind": "lambda"}, plan={},
                        started_at="2026-11-28T10:00:00Z", phase=Phase.AWAITING_APPROVAL,
                        weight=10.0)
    waiting.add_event(__import__("datetime").datetime(2026, 11, 28, 10, 0, 5), "shifted to 10%")
    done = RunRecord(run_id="cart-20261128T090000Z-bbbb", plan_name="cart", target_key="k2",
                     target={"kind": "lambda"}, plan={}, started_at="2026-11-28T09:00:00Z",
                     phase=Phase.SUCCEEDED, weight=100.0)
    store.create(done)
    store.create(waiting)
    return store


def csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_runs_list_shows_active_runs_first_then_recent_ones_and_filters(
        tmp_path: Path) -> None:
    store = stored(tmp_path)
    rolled = RunRecord(run_id="api-20261128T080000Z-cccc", plan_name="api", target_key="k3",
                       target={"kind": "lambda"}, plan={}, started_at="2026-11-28T08:00:00Z",
                       ended_at="2026-11-28T11:00:00Z", phase=Phase.ROLLED_BACK,
                       weight=0.0, reason="alarm api-5xx is in ALARM")
    store.create(rolled)
    client = TestClient(create_app(store, "alice"))
    front = client.get("/")
    assert front.status_code == 200
    text = front.text
    # the active run, then the one that just rolled back (ended last), then the older one
    assert text.index("shop-2026") < text.index("api-2026") < text.index("cart-2026")
    assert "alarm api-5xx is in ALARM" in text
    only_active = client.get("/?show=active").text
    assert "shop-20261128T100000Z-aaaa" in only_active and "cart-" not in only_active
    every = client.get("/?show=all").text
    assert every.index("shop-2026") < every.index("cart-2026")
    assert "shop-" not in client.get("/?show=all&plan=cart").text


def test_the_front_page_keeps_the_newest_ended_runs_only(tmp_path: Path) -> None:
    from deployer.dashboard.app import RECENT

    store = FileStore(tmp_path / "store")
    for index in range(RECENT + 3):
        store.create(RunRecord(run_id=f"fn-20261128T{index:02d}0000Z-{index:04x}",
                               plan_name="fn", target_key=f"k{index}",
                               target={"kind": "lambda"}, plan={},
                               started_at=f"2026-11-28T{index:02d}:00:00Z",
                               phase=Phase.SUCCEEDED, weight=100.0))
    client = TestClient(create_app(store, "alice"))
    front = client.get("/").text
    assert front.count('href="/runs/fn-') == RECENT
    assert "fn-20261128T000000Z-0000" not in front  # the oldest is left to show=all
    assert client.get("/?show=all").text.count('href="/runs/fn-') == RECENT + 3


def test_approve_writes_the_request_the_cli_writes(tmp_path: Path) -> None:
    store = stored(tmp_path)
    client = TestClient(create_app(store, "alice"))
    run = "/runs/shop-20261128T100000Z-aaaa"
    page = client.get(run)
    assert "<polyline" in page.text and 'id="approve"' in page.text
    assert 'id="override_window"' not in page.text  # only a run held by its window
    answer = client.post(f"{run}/actions", data={"action": "approve", "csrf": csrf(client, run)},
                         follow_redirects=False)
    assert answer.status_code == 303
    (request,) = store.load("shop-20261128T100000Z-aaaa").requests
    assert (request["action"], request["by"]) == ("approve", "alice (dashboard)")


def test_a_request_the_run_cannot_take_is_a_409_with_the_reason(tmp_path: Path) -> None:
    client = TestClient(create_app(stored(tmp_path), "alice"))
    token = csrf(client, "/runs/shop-20261128T100000Z-aaaa")  # bound to the session
    answer = client.post("/runs/cart-20261128T090000Z-bbbb/actions",
                         data={"action": "abort", "csrf": token})
    assert answer.status_code == 409
    assert 'id="message"' in answer.text


@pytest.mark.parametrize(("data", "status"), [
    ({"action": "approve"}, 403),                       # no CSRF token
    ({"action": "approve", "csrf": "0" * 64}, 403),     # a wrong one
    ({"action": "explode", "csrf": None}, 400),          # an unknown action
])
def test_bad_posts_are_refused(tmp_path: Path, data: dict[str, str | None], status: int) -> None:
    client = TestClient(create_app(stored(tmp_path), "alice"))
    run = "/runs/shop-20261128T100000Z-aaaa"
    if "csrf" in data and data["csrf"] is None:
        data["csrf"] = csrf(client, run)
    assert client.post(f"{run}/actions", data=data).status_code == status


def test_unknown_runs_are_404(tmp_path: Path) -> None:
    client = TestClient(create_app(stored(tmp_path), "alice"))
    assert client.get("/runs/nope").status_code == 404
    assert client.get("/runs/nope.json").status_code == 404


def test_with_a_token_every_request_needs_it(tmp_path: Path) -> None:
    client = TestClient(create_app(stored(tmp_path), "alice", token="s3cret"))
    assert client.get("/runs/shop-20261128T100000Z-aaaa.json").status_code == 401
    assert client.get("/", headers={"accept": "text/html"},
                      follow_redirects=False).headers["location"] == "/login"
    assert client.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/login", data={"token": "wrong"}).status_code == 401
    assert client.post("/login", data={"token": "s3cret"}, follow_redirects=False
                       ).status_code == 303
    assert client.get("/runs/shop-20261128T100000Z-aaaa.json").json()["phase"] == \
        "AWAITING_APPROVAL"


def test_a_reachable_host_needs_a_token() -> None:
    result = run_cli("dashboard", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "give --token" in result.stderr


def test_a_run_held_by_its_window_can_be_overridden_with_a_reason(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "store")
    held = RunRecord(run_id="web-20261128T100000Z-dddd", plan_name="web", target_key="k4",
                     target={"kind": "asg"}, plan={}, started_at="2026-11-28T10:00:00Z",
                     phase=Phase.WAITING_WINDOW, weight=10.0,
                     window={"closed_because": "year-end freeze (until 2027-01-04 08:00 CET)",
                             "opens": "2027-01-04T07:00:00Z"})
    store.create(held)
    client = TestClient(create_app(store, "alice"))
    run = f"/runs/{held.run_id}"
    page = client.get(run).text
    assert "deployment window closed: year-end freeze (until 2027-01-04 08:00 CET)" in page
    assert 'id="override_window"' in page
    token = csrf(client, run)
    assert client.post(f"{run}/actions", data={"action": "override_window", "csrf": token,
                                              "reason": " "}).status_code == 400
    answer = client.post(f"{run}/actions", data={"action": "override_window", "csrf": token,
                                                "reason": "INC-42 hotfix"},
                         follow_redirects=False)
    assert answer.status_code == 303
    (request,) = store.load(held.run_id).requests
    assert (request["action"], request["reason"]) == ("override_window", "INC-42 hotfix")
