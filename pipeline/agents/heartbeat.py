"""The worker's heartbeat for /healthz: a Faust timer, so it stops when the loop stops."""

from __future__ import annotations

from pipeline.app import app
from pipeline.health import Health

health = Health()


@app.timer(interval=5.0)  # type: ignore[untyped-decorator]
async def heartbeat() -> None:
    health.beat()
