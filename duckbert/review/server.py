"""`duckbert review`: serve the queue on a local port with uvicorn until interrupted."""

from __future__ import annotations

import socket
from pathlib import Path

from duckbert.review.state import ReviewState

LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_PORT = 8765


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 lets the system choose a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(64)
    return sock


def allowed_hosts(host: str, port: int) -> set[str]:
    """Host headers this server answers: its own address, and localhost when on loopback."""
    shown = f"[{host}]" if ":" in host else host
    hosts = {f"{shown}:{port}"}
    if host in LOOPBACK:
        hosts |= {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    return hosts


def serve(db_path: str, host: str = "127.0.0.1", port: int | None = None,
          source: str = "analyst",
          echo=print, ready=None) -> None:
    """Serve the review queue of `db_path`; returns when interrupted (Ctrl-C)."""
    import uvicorn

    from duckbert.review.app import create_app

    db = Path(db_path)
    if not db.exists():
        raise FileNotFoundError(f"warehouse {db} does not exist; run `duckbert demo` (or load "
                                "and build) first")
    if port is None:
        try:
            sock = bind(host, DEFAULT_PORT)
        except OSError:
            sock = bind(host, 0)
    else:
        sock = bind(host, port)
    port = sock.getsockname()[1]
    state = ReviewState(db, source=source, allowed_hosts=allowed_hosts(host, port))
    state.snapshot.refresh(force=True)
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    echo(f"duckbert review: {url}  (warehouse {db}; Ctrl-C to stop)")
    if state.snapshot.status.busy:
        echo(f"  note: {state.snapshot.status.busy}; the page waits for it")
    if host not in LOOPBACK:
        echo(f"  warning: listening on {host}, reachable from other machines; the page has "
             "no login")
    if ready is not None:
        ready(url)
    config = uvicorn.Config(create_app(state), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])
