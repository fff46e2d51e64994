"""The dashboard's web app (Starlette): the runs in the store, a run page that follows
the run live, and the operator buttons, which write the same requests as the CLI
verbs (runs/operator.py).

Every form carries a CSRF token bound to the browser's session cookie (an HMAC under
a per-process secret). With a token (required off loopback), every request must carry
it, as a bearer header or as the cookie the login form sets."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from deployer.core.ports import Store
from deployer.core.settings import Settings
from deployer.display.chart import chart_of
from deployer.display.html_report import targets_of
from deployer.errors import DeployerError
from deployer.plan.durations import format_duration
from deployer.runs.operator import OperatorError, request_action
from deployer.store import RunNotFound

SESSION, TOKEN = "deployer_session", "deployer_token"
SHOW = ("recent", "active", "all")
RECENT = 20  # ended runs on the front page (show=all lists every one)
ACTIONS = (("approve", "approve", False), ("promote", "promote", False),
           ("promote_full", "promote --full", False), ("abort", "abort", True))
# Break glass for a run held by its deployment window (SPEC §14): needs a reason.
OVERRIDE = "override_window"


class Dashboard:
    """The app's state (the store, who acts, the token, the CSRF secret) and its pages."""

    def __init__(self, store: Store, identity: str, token: str | None,
                 settings: Settings | None = None) -> None:
        self.store, self.identity, self.token = store, identity, token
        self.settings = settings  # how to reach AWS (answering a Step Functions gate)
        self.secret = secrets.token_bytes(32)
        self.templates = jinja2.Environment(
            loader=jinja2.ChoiceLoader([
                jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                jinja2.FileSystemLoader(Path(__file__).parents[1] / "display" / "templates")]),
            autoescape=True)

    def csrf_for(self, session: str) -> str:
        return hmac.new(self.secret, session.encode(), hashlib.sha256).hexdigest()

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        session = request.cookies.get(SESSION) or secrets.token_urlsafe(24)
        html = self.templates.get_template(name).render(csrf=self.csrf_for(session), **values)
        response = HTMLResponse(html, status_code=status)
        if SESSION not in request.cookies:
            response.set_cookie(SESSION, session, httponly=True, samesite="strict")
        return response

    def allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        bearer = request.headers.get("authorization", "")
        given = bearer.removeprefix("Bearer ").strip() if bearer.startswith("Bearer ") \
            else request.cookies.get(TOKEN, "")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def gate(self, request: Request) -> Response | None:
        if self.allowed(request):
            return None
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/login", status_code=303)
        return JSONResponse({"error": "a valid token is needed"}, status_code=401)

    def runs(self, request: Request) -> Response:
        denied = self.gate(request)
        if denied:
            return denied
        show = request.query_params.get("show", "recent")
        if show not in SHOW:
            show = "recent"
        plan = request.query_params.get("plan", "")
        found = [r for r in self.store.runs() if plan in r.plan_name]
        # Active runs first (newest first), then the ones that ended, newest first: the run
        # that just rolled back is what people open the dashboard to look at.
        active = sorted((r for r in found if not r.terminal), key=lambda r: r.started_at,
                        reverse=True)
        ended = sorted((r for r in found if r.terminal),
                       key=lambda r: (r.ended_at or r.started_at, r.started_at), reverse=True)
        ended = [] if show == "active" else ended if show == "all" else ended[:RECENT]
        return self.page(request, "runs.html.j2",
                         active=[r.document(with_events=False) for r in active],
                         ended=[r.document(with_events=False) for r in ended],
                         show=show, plan=plan, recent=RECENT)

    def load(self, run_id: str) -> Any:
        try:
            return self.store.load(run_id)
        except RunNotFound:
            return None

    def run_page(self, request: Request, message: str | None = None, status: int = 200) -> Response:
        denied = self.gate(request)
        if denied:
            return denied
        record = self.load(request.path_params["run_id"])
        if record is None:
            return HTMLResponse("no such run", status_code=404)
        document = record.document()
        chart = chart_of(document)
        return self.page(request, "run.html.j2", status, run=document, chart=chart,
                    targets=targets_of(document),
                    colours=("#1a7f37", "#8250df", "#bf3989", "#0969da"), version=record.version,
                    terminal=record.terminal, actions=ACTIONS, message=message,
                    seconds=format_duration(chart.seconds))

    def run_json(self, request: Request) -> Response:
        denied = self.gate(request)
        if denied:
            return denied
        record = self.load(request.path_params["run_id"])
        if record is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        return JSONResponse({**record.document(), "version": record.version})

    async def act(self, request: Request) -> Response:
        denied = self.gate(request)
        if denied:
            return denied
        form = await request.form()
        session = request.cookies.get(SESSION, "")
        if not session or not hmac.compare_digest(str(form.get("csrf", "")),
                                                  self.csrf_for(session)):
            return HTMLResponse("missing or wrong CSRF token", status_code=403)
        action = str(form.get("action", ""))
        if action not in {a for a, _, _ in ACTIONS} | {OVERRIDE}:
            return HTMLResponse(f"unknown action {action!r}", status_code=400)
        if action == OVERRIDE and not str(form.get("reason", "")).strip():
            return HTMLResponse("overriding the deployment window needs a reason",
                                status_code=400)
        run_id = request.path_params["run_id"]
        if self.load(run_id) is None:
            return HTMLResponse("no such run", status_code=404)
        reason = str(form.get("reason", "")).strip() or "from the dashboard"
        try:
            request_action(self.store, run_id, action, f"{self.identity} (dashboard)", reason,
                           self.settings)
        except (OperatorError, DeployerError) as exc:
            return self.run_page(request, message=exc.message, status=409)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(
                '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>deployer'
                '</title></head><body><form method="post" action="/login"><label>token '
                '<input type="password" name="token"></label> <button>sign in</button>'
                '</form></body></html>')
        form = await request.form()
        given = str(form.get("token", ""))
        if self.token is None or not hmac.compare_digest(given.encode(), self.token.encode()):
            return HTMLResponse("wrong token", status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(TOKEN, given, httponly=True, samesite="strict")
        return response


def create_app(store: Store, identity: str, token: str | None = None,
               settings: Settings | None = None) -> Starlette:
    app = Dashboard(store, identity, token, settings)
    return Starlette(routes=[
        Route("/", app.runs),
        Route("/login", app.login, methods=["GET", "POST"]),
        Route("/runs/{run_id}.json", app.run_json),
        Route("/runs/{run_id}", app.run_page),
        Route("/runs/{run_id}/actions", app.act, methods=["POST"]),
    ])
