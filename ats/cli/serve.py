"""`ats serve`: the HTTP API in one process, with the worker's jobs alongside by default."""

from __future__ import annotations

import click

from ats.cli.context import Context, pass_context


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--no-worker",
    is_flag=True,
    help="Serve only; run `ats worker` processes separately (several API processes on PostgreSQL).",
)
@pass_context
def serve(ctx: Context, host: str, port: int, no_worker: bool) -> None:
    """Serve the API on http://HOST:PORT/api/v1 (docs at /api/v1/docs)."""
    import threading

    import uvicorn

    from ats.api.app import create_api
    from ats.worker import Worker

    app = ctx.app
    runner = None if no_worker else Worker(app, name=None)
    if runner is not None:
        threading.Thread(target=runner.run_in_background, name="ats-worker", daemon=True).start()
    click.echo(f"ATS API on http://{host}:{port}/api/v1 (OpenAPI docs: /api/v1/docs)")
    try:
        uvicorn.run(create_api(app), host=host, port=port, log_level="warning")
    finally:
        if runner is not None:
            runner.stopping.set()
