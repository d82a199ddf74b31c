"""The dashboard as an ASGI app: `create_app(case_path)`.

Each page is two routes over one read (`queries.py`): `/networks` renders the template,
`/networks.json` returns the same dict as JSON. The case is opened once, read-only; each
request reads through its own cursor (a DuckDB connection must not be shared across the
threads Starlette runs the endpoints in). Every response carries a strict
Content-Security-Policy: scripts and styles come only from /static (no inline script,
no eval), nothing is fetched from another origin, and the page cannot be framed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trollscope import __version__
from trollscope.case import SAFE_OPTIMIZERS, Case
from trollscope.report.data import shown
from trollscope.serve import index
from trollscope.serve import queries as q

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


# The names a browser on this machine reaches a loopback server by.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def host_of(header: str) -> str:
    """The host of a Host header, without its port: 'localhost:8001' -> 'localhost',
    '[::1]:8001' -> '::1'."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class TrustedHosts:
    """Refuses a request whose Host header names another host (HTTP 400). A server on
    127.0.0.1 is otherwise open to DNS rebinding: a web page whose domain name is made to
    resolve to 127.0.0.1 could read the case through the visitor's browser. `None`: any
    host (the server listens beyond this machine, as the user asked, and was warned)."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str] | None) -> None:
        self.app = app
        self.allowed = None if allowed is None else {h.lower() for h in allowed}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            headers = dict(scope.get("headers", []))
            host = host_of(headers.get(b"host", b"").decode("latin-1")).lower()
            if host not in self.allowed:
                response = Response("Invalid host header", 400, media_type="text/plain")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Adds the CSP and its companions to every response (pages, JSON, static, errors)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in HEADERS if h[0] not in names
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("trollscope.serve", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["shown"] = shown
    env.filters["num"] = lambda v, digits=0: "" if v is None else f"{v:,.{digits}f}"
    env.globals["version"] = __version__
    env.globals["url_with"] = url_with
    return env


def url_with(request: Request, **changes: object) -> str:
    """This page's path and query with some parameters changed (sorting, paging)."""
    params = dict(request.query_params)
    params.update({k: str(v) for k, v in changes.items()})
    return request.url.path + "?" + urlencode(params)


def json_response(data: object, status: int = 200) -> Response:
    body = orjson.dumps(data, default=q.json_default, option=orjson.OPT_NON_STR_KEYS)
    return Response(body, status_code=status, media_type="application/json")


# -- URL parameters -----------------------------------------------------------------------


def _int(params: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> Any:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise q.BadRequest(f"{name} must be a whole number, not {raw[:40]!r}.") from None
    if not low <= value <= high:
        raise q.BadRequest(f"{name} must be between {low} and {high}, not {value}.")
    return value


def _paging(params: Mapping[str, str]) -> q.Paging:
    return q.Paging(
        offset=_int(params, "offset", 0, 0, 2**31),
        limit=_int(params, "limit", q.PAGE_SIZE, 1, q.MAX_PAGE_SIZE),
    )


def _desc(params: Mapping[str, str], default: bool) -> bool:
    order = params.get("order", "")
    if order not in ("", "asc", "desc"):
        raise q.BadRequest(f"order must be asc or desc, not {order[:40]!r}.")
    return default if order == "" else order == "desc"


# -- the pages ----------------------------------------------------------------------------

Read = Callable[[q.Db, Request], q.Page]


def _networks(db: q.Db, request: Request) -> q.Page:
    p = request.query_params
    where = q.NetworkFilter(
        verdict=p.get("verdict", ""),
        trace=p.get("trace", ""),
        lang=p.get("lang", ""),
        min_size=_int(p, "min_size", None, 0, 2**31),
        max_size=_int(p, "max_size", None, 0, 2**31),
        sort=p.get("sort", "rank") or "rank",
        desc=_desc(p, False),
    )
    return q.networks(db, where, _paging(p))


def _network(db: q.Db, request: Request) -> q.Page:
    p = request.query_params
    sort = p.get("sort", "score") or "score"
    return q.network(
        db, request.path_params["network"], p.get("q", ""), _paging(p), sort, _desc(p, True)
    )


def _graph(db: q.Db, request: Request) -> q.Page:
    return q.graph(db, request.path_params["network"])


def _charts(db: q.Db, request: Request) -> q.Page:
    return q.charts(db, request.path_params["network"])


def _account(db: q.Db, request: Request) -> q.Page:
    p = request.query_params
    if "id" not in p:
        raise q.BadRequest("give the account as ?platform=...&id=...")
    return q.account(db, p.get("platform", ""), p["id"], _paging(p))


def create_app(
    case_path: Path | str, *, allowed_hosts: Sequence[str] | None = LOCAL_HOSTS
) -> Starlette:
    """The dashboard over the case at `case_path`, opened read-only now (so that a missing
    or foreign file is a CaseError here, before a server starts). It answers requests
    addressed to `allowed_hosts` only (None: any)."""
    # Opened once as a case for its checks and their errors (no such file, not a case,
    # another schema version), then read through the indexed connection.
    Case.open(case_path, read_only=True).close()
    con, posts = index.connect(case_path)
    tables = q.case_tables(con)
    env = _templates()
    name = Path(case_path).name

    def _case(db: q.Db, request: Request) -> q.Page:
        return q.case(db, name, _paging(request.query_params))

    def read(fn: Read, request: Request) -> q.Page:
        cur = con.cursor()
        try:
            index.session(cur)
            cur.execute(SAFE_OPTIMIZERS)
            return fn(q.Db(cur, tables, posts), request)
        finally:
            cur.close()

    def error(request: Request, status: int, message: str, as_json: bool) -> Response:
        if as_json:
            return json_response({"error": message, "status": status}, status)
        html = env.get_template("error.html.j2").render(
            status=status, message=message, case=name, request=request
        )
        return HTMLResponse(html, status_code=status)

    def page(fn: Read, template: str | None) -> Callable[[Request], Response]:
        """The endpoint of one page: JSON when the path ends in .json, else the template."""

        def endpoint(request: Request) -> Response:
            as_json = template is None or request.url.path.endswith(".json")
            try:
                data = read(fn, request)
            except q.NotFound as exc:
                return error(request, 404, str(exc), as_json)
            except q.BadRequest as exc:
                return error(request, 400, str(exc), as_json)
            if as_json:
                return json_response(data)
            html = env.get_template(template or "").render(
                data=data, case=name, request=request, json_url=_json_url(request)
            )
            return HTMLResponse(html)

        return endpoint

    networks = page(_networks, "networks.html.j2")
    network = page(_network, "network.html.j2")
    account = page(_account, "account.html.j2")
    case_page = page(_case, "case.html.j2")

    def not_found(request: Request, exc: Exception) -> Response:
        return error(request, 404, "no such page.", request.url.path.endswith(".json"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        con.close()

    routes = [
        Route("/", lambda request: RedirectResponse("/networks", status_code=302)),
        # Browsers ask for it on every address, the JSON twins included.
        Route("/favicon.ico", lambda request: FileResponse(STATIC / "favicon.svg")),
        Route("/networks", networks),
        Route("/networks.json", networks),
        Route("/networks/{network:int}", network),
        Route("/networks/{network:int}.json", network),
        Route("/networks/{network:int}/graph.json", page(_graph, None)),
        Route("/networks/{network:int}/charts.json", page(_charts, None)),
        Route("/account", account),
        Route("/account.json", account),
        Route("/case", case_page),
        Route("/case.json", case_page),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found}, lifespan=lifespan)
    app.add_middleware(TrustedHosts, allowed=allowed_hosts)
    app.add_middleware(SecurityHeaders)
    return app


def _json_url(request: Request) -> str:
    """The page's JSON twin: the same path with .json, the same query."""
    url = request.url.path.rstrip("/") + ".json"
    return url + ("?" + request.url.query if request.url.query else "")
