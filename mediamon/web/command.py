"""`mediamon web [--host] [--port]`: serve the live page with uvicorn."""

from __future__ import annotations

import typer
import uvicorn

from mediamon.output import console
from mediamon.web.app import create_app
from mediamon.web.guard import is_loopback
from pipeline.errors import ConfigError
from pipeline.settings import Settings, get_settings


def check_exposure(settings: Settings, host: str) -> str:
    """What the page's start says about who can reach it; refuses an open non-local bind."""
    if is_loopback(host):
        return "only this machine can open it"
    if settings.web_token is None:
        raise ConfigError(
            f"--host {host} would open the page to the network: set MEDIAMON_WEB_TOKEN "
            "(a long random secret) in the environment first"
        )
    return "open to the network; every request needs MEDIAMON_WEB_TOKEN (bearer or basic auth)"


def web(
    host: str = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", help="Port (default 8080, MEDIAMON_WEB_PORT)."),
) -> None:
    """The newest articles live, searchable and filtered, with charts; read-only."""
    settings = get_settings()
    host = host or settings.web_host
    port = settings.web_port if port is None else port
    exposure = check_exposure(settings, host)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"mediamon web on http://{shown}:{port}/ ({exposure}); Ctrl-C stops it")
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,  # live pages hold a stream open
        proxy_headers=False,
    )
