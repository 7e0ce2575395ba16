"""The worker's heartbeat for /healthz: a Faust timer, so it stops when the loop stops."""

from __future__ import annotations

from pipeline.app import Wiring


def register(w: Wiring) -> None:
    @w.app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def heartbeat() -> None:
        w.health.beat()
