"""The review queue as a Starlette app: one HTML page, one JSON endpoint, static files."""

from __future__ import annotations

import contextlib
import json

from duckbert.review import pages, queries, security
from duckbert.review.security import BadRequest
from duckbert.review.state import ReviewState


def create_app(state: ReviewState):
    """The ASGI app over `state` (its snapshot, label queue and retry loop)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    def secured(response):  # the headers themselves come from _Headers
        return response

    def index(request):
        q = security.queue_query(request.query_params)
        try:
            html = pages.render_queue(state, q)
        except LookupError as exc:
            return secured(HTMLResponse(f"<p>{_escape(str(exc))}</p>", status_code=503))
        return secured(HTMLResponse(html))

    async def label(request):
        try:
            security.check_origin(request.headers, state.token, state.allowed_hosts)
            body = await request.body()
            if len(body) > security.MAX_BODY:
                raise BadRequest("request too large")
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise BadRequest("the body is not JSON") from exc
            if not isinstance(data, dict):
                raise BadRequest("the body must be a JSON object")
            session_id = security.session_id(data.get("session_id"))
            verdict = security.verdict(data.get("verdict"))
            note = security.note(data.get("note"))
        except BadRequest as exc:
            return secured(JSONResponse({"error": str(exc)}, status_code=400))
        from starlette.concurrency import run_in_threadpool

        return secured(await run_in_threadpool(_record, request, session_id, verdict, note))

    def _record(request, session_id, verdict, note):
        if not state.snapshot.ready or not queries.known_session(state.snapshot, session_id):
            return JSONResponse({"error": f"{session_id!r} is not a flagged session"},
                                status_code=404)
        status = state.record(session_id, verdict, note)
        q = security.queue_query(request.query_params)
        messages = {"skipped": "skipped",
                    "saved": f"{verdict}: saved, on its way to raw_labels",
                    "queued": f"{verdict}: saved; the warehouse is busy, written when it "
                              "is free"}
        return JSONResponse({"status": status, "message": messages[status],
                             "session_id": session_id,
                             "next": pages.next_after(state, q, session_id)})

    def health(request):
        return secured(PlainTextResponse("ok"))

    routes = [
        Route("/", index),
        Route("/api/label", label, methods=["POST"]),
        Route("/healthz", health),
        Mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static"),
    ]
    hosts = sorted({h.rsplit(":", 1)[0].strip("[]") for h in state.allowed_hosts})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        state.start()
        try:
            yield
        finally:
            state.stop()

    return Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts or ["127.0.0.1"]),
        Middleware(_Headers)])


class _Headers:
    """ASGI middleware: the security headers on every response, static files included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode("latin-1").lower() not in _LOWER]
                headers += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                            for k, v in security.HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_LOWER = {k.lower() for k in security.HEADERS}


def _escape(text: str) -> str:
    from html import escape

    return escape(text)
