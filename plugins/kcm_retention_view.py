"""Retention view: the data team's page in the Airflow UI (R2, R3, R4, R6, R11, R12).

Per client: respondents and recordings stored, what falls due in the next 30 days,
what the last nightly runs anonymised and deleted, the last proof with its report,
open subject requests (overdue in red) and a chart of stored versus anonymised data.
Counts, ids and dates only, read from the warehouse through include.dashboard.

A FastAPI app mounted by the api-server at /retention, shown inside Airflow's UI as
an external view ("Retention" in the navigation). The api-server mounts plugin apps
without authentication, so every route here requires an Airflow user: the JWT of
Airflow's login (the `_token` cookie the UI sets, or a Bearer header) validated by
Airflow's own `get_user`, plus the auth manager's permission for the custom view and,
per client, read access to its retention DAG.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures in create_app(),
# whose types are imported there, so annotations must be evaluated where they are written.
import datetime as dt
from pathlib import Path
from typing import Any

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/retention"
RESOURCE_NAME = "Retention"
TEMPLATES = Path(__file__).resolve().parent / "kcm_retention_view" / "templates"
# The view has no script: nothing but its own styles may load, only Airflow may frame it, nothing is cached.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'self'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
# Reports are files on disk served from Airflow's origin: sandboxed, so no script in one can act as the user.
REPORT_HEADERS = {
    "Content-Security-Policy": "sandbox",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


class _AppOnFirstRequest:
    """ASGI app that builds the FastAPI app on its first request.

    Every task process imports the plugins folder (for macros), so the view's imports
    (FastAPI, Jinja2, SQLAlchemy, Airflow's API security) wait until the api-server serves it.
    """

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return f"{__name__}.create_app()"


def create_app():
    """The Retention view's FastAPI app (routes, authentication, templates)."""
    from typing import Annotated

    import jinja2
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
    from markupsafe import Markup

    from include import dashboard, warehouse

    app = FastAPI(title="KCM Retention view", docs_url=None, redoc_url=None, openapi_url=None)
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    templates.filters["number"] = lambda value: f"{value:,}".replace(",", "\u202f")
    templates.globals["chart"] = lambda history: Markup(chart_svg(history))

    @app.exception_handler(HTTPException)
    async def _login_or_refuse(request: Request, exc: HTTPException):
        # A browser without a valid login goes to Airflow's login page and comes back here.
        if exc.status_code == 401 and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    def viewer(user: Annotated[BaseUser, Depends(get_user)]) -> BaseUser:
        if not get_auth_manager().is_authorized_custom_view(method="GET", resource_name=RESOURCE_NAME, user=user):
            raise HTTPException(403, f"not allowed to see the {RESOURCE_NAME} view")
        return user

    User = Annotated[BaseUser, Depends(viewer)]

    def visible_clients(user: BaseUser, client_ids: list[str]) -> list[str]:
        manager = get_auth_manager()
        return [
            c
            for c in client_ids
            if manager.is_authorized_dag(method="GET", details=DagDetails(id=f"kcm_retention__{c}"), user=user)
        ]

    def as_of_day(value: str | None) -> dt.date:
        if not value:
            return dashboard.today()
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise HTTPException(400, f"as_of: expected a date as YYYY-MM-DD, found {value!r}") from None

    def the_overview(user: BaseUser, as_of: str | None) -> dashboard.Overview:
        eng = warehouse.engine()
        day = as_of_day(as_of)
        everyone = dashboard.overview(eng, day)
        allowed = visible_clients(user, [c.client_id for c in everyone.clients])
        if len(allowed) == len(everyone.clients):
            return everyone
        return dashboard.overview(eng, day, client_ids=allowed)

    def render(name: str, **context: Any) -> HTMLResponse:
        return HTMLResponse(templates.get_template(name).render(**context), headers=PAGE_HEADERS)

    @app.get("/", response_class=HTMLResponse)
    def overview_page(user: User, as_of: Annotated[str | None, Query()] = None) -> HTMLResponse:
        """Every client on one page."""
        return render("overview.html", view=the_overview(user, as_of), explicit_as_of=as_of)

    @app.get("/clients/{client_id}", response_class=HTMLResponse)
    def client_page(client_id: str, user: User, as_of: Annotated[str | None, Query()] = None) -> HTMLResponse:
        """One client: what falls due, the last nights, the proof, requests and the chart."""
        day = as_of_day(as_of)
        if not visible_clients(user, [client_id]):
            raise HTTPException(403, f"not allowed to see client {client_id}")
        detail = dashboard.client_detail(warehouse.engine(), client_id, day)
        if detail is None:
            raise HTTPException(404, f"no client {client_id} in the warehouse (it appears after its first run)")
        return render("client.html", detail=detail, explicit_as_of=as_of)

    @app.get("/api/overview")
    def overview_json(user: User, as_of: Annotated[str | None, Query()] = None) -> dict:
        """The overview's numbers as JSON (for scripts and tests)."""
        view = the_overview(user, as_of)
        return {
            "as_of": view.as_of.isoformat(),
            "horizon": view.horizon.isoformat(),
            "requests_tracked": view.requests_tracked,
            "totals": view.totals,
            "clients": [_client_json(c) for c in view.clients],
        }

    @app.get("/reports/{relative:path}")
    def report(relative: str, user: User) -> FileResponse:
        """A proof report under KCM_HOME/reports (HTML or JSON; R11 evidence holds no personal data)."""
        path = dashboard.report_file(relative)
        if path is None:
            raise HTTPException(404, "no such report")
        return FileResponse(path, headers=REPORT_HEADERS)

    return app


def _client_json(row) -> dict:
    return {
        "client_id": row.client_id,
        "personal_respondents": row.personal_respondents,
        "anonymised_respondents": row.anonymised_respondents,
        "recordings": row.recordings,
        "due_assignments": [
            {
                "assignment_id": a.assignment_id,
                "rule": a.rule,
                "due_on": a.due_on.isoformat(),
                "personal_respondents": a.personal_respondents,
                "recordings": a.recordings,
                "overdue": a.overdue,
            }
            for a in row.due_assignments
        ],  # fmt: skip
        "due_respondents": row.due_respondents,
        "due_non_respondents": row.due_non_respondents,
        "overdue_non_respondents": row.overdue_non_respondents,
        "last_night": None
        if row.last_night is None
        else {
            "as_of": row.last_night.as_of.isoformat(),
            "anonymised": row.last_night.anonymised,
            "deleted": row.last_night.deleted,
            "recordings_deleted": row.last_night.recordings_deleted,
        },
        "proof": None
        if row.proof is None
        else {
            "as_of": row.proof.as_of.isoformat() if row.proof.as_of else None,
            "passed": row.proof.passed,
            "recorded_at": row.proof.recorded_at.isoformat() if row.proof.recorded_at else None,
            "report": row.proof.report,
        },
        "open_requests": [
            {
                "request_id": r.request_id,
                "request_type": r.request_type,
                "due_on": r.due_on.isoformat(),
                "overdue": r.overdue,
            }
            for r in row.open_requests
        ],  # fmt: skip
    }


# --- the chart: inline SVG, drawn on the server (no script, no CDN) -----------------------------

_SERIES = (
    ("personal", "holding personal data", "#c2410c", ""),
    ("anonymised", "anonymised", "#15803d", ""),
    ("deleted", "deleted since the chart's start", "#6b7280", "4 3"),
)


def chart_svg(history, *, width: int = 760, height: int = 260) -> str:
    """Stored versus anonymised respondents per day as an SVG line chart."""
    left, right, top, bottom = 56, 12, 12, 52
    plot_w, plot_h = width - left - right, height - top - bottom
    points = list(history)
    if not points:
        return (
            f'<svg class="chart" width="{width}" height="40"><text x="0" y="20">No respondents stored yet.</text></svg>'
        )
    peak = max(max(p.personal, p.anonymised, p.deleted) for p in points) or 1
    span = max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + plot_w * i / span

    def y(value: int) -> float:
        return top + plot_h * (1 - value / peak)

    parts = [
        f'<svg class="chart" role="img" aria-label="Respondents stored versus anonymised per day" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#9ca3af"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">{peak:,}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
        f'<text x="{left}" y="{top + plot_h + 16}" font-size="11">{points[0].day.isoformat()}</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 16}" text-anchor="end" font-size="11">'
        f"{points[-1].day.isoformat()}</text>",
    ]
    for index, (attribute, label, colour, dash) in enumerate(_SERIES):
        coords = " ".join(f"{x(i):.1f},{y(getattr(p, attribute)):.1f}" for i, p in enumerate(points))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        last = getattr(points[-1], attribute)
        parts.append(
            f'<polyline data-series="{attribute}" data-last="{last}" fill="none" stroke="{colour}" '
            f'stroke-width="2"{dash_attr} points="{coords}"/>'
        )
        lx = left + index * 230
        parts.append(f'<line x1="{lx}" y1="{height - 12}" x2="{lx + 18}" y2="{height - 12}" stroke="{colour}" '
                     f'stroke-width="2"{dash_attr}/>')  # fmt: skip
        parts.append(f'<text x="{lx + 24}" y="{height - 8}" font-size="11">{label} ({last:,})</text>')
    parts.append("</svg>")
    return "".join(parts)


class KcmRetentionViewPlugin(AirflowPlugin):
    """Adds the Retention page to the Airflow UI."""

    name = "kcm_retention_view"
    fastapi_apps = [{"app": _AppOnFirstRequest(), "url_prefix": URL_PREFIX, "name": "KCM Retention view"}]
    external_views = [
        {
            "name": RESOURCE_NAME,
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "retention",
            "nav_top_level": True,
        }
    ]
