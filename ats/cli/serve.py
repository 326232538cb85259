"""`ats serve`: the web interface and the API in one process, with the worker's jobs alongside."""

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
@click.option(
    "--demo",
    is_flag=True,
    help="On an empty database, seed the demo hiring drive and a user per role; print the logins.",
)
@click.option(
    "--forwarded-allow-ips",
    metavar="IPS",
    default=None,
    help="Proxies (comma-separated addresses) whose X-Forwarded-For is believed; "
    "by default none is, and the sign-in limit counts the connecting address.",
)
@pass_context
def serve(
    ctx: Context,
    host: str,
    port: int,
    no_worker: bool,
    demo: bool,
    forwarded_allow_ips: str | None,
) -> None:
    """Serve the staff pages on http://HOST:PORT/, the careers site under /jobs, the API under /api/v1."""
    import threading

    import uvicorn

    from ats.api.app import create_api
    from ats.worker import Worker

    app = ctx.app
    if demo:
        _demo(ctx)
    runner = None if no_worker else Worker(app, name=None)
    if runner is not None:
        threading.Thread(target=runner.run_in_background, name="ats-worker", daemon=True).start()
    click.echo(
        f"ATS on http://{host}:{port}/ (careers site: /jobs, API: /api/v1, its docs: /api/v1/docs)"
    )
    try:
        uvicorn.run(
            create_api(app),
            host=host,
            port=port,
            log_level="warning",
            proxy_headers=forwarded_allow_ips is not None,
            forwarded_allow_ips=forwarded_allow_ips,
        )
    finally:
        if runner is not None:
            runner.stopping.set()


def _demo(ctx: Context) -> None:
    from ats.demo import demo_logins, seed_demo
    from ats.logs import configure_logging

    app = ctx.app
    logins = app.settings.home / "var" / "demo-logins.txt"
    configure_logging(level="warning", fmt=app.settings.log_format)
    try:
        if seed_demo(app, logins_file=logins, progress=click.echo):
            click.echo("demo: seeded the hiring drive and a user per role")
    finally:
        configure_logging(level=app.settings.log_level, fmt=app.settings.log_format)
    lines = demo_logins(app, logins)
    if lines:
        click.echo(f"demo logins (username, password, roles; kept in {logins}):")
        click.echo("\n".join(lines))
    else:
        click.echo("demo: the database was not empty; its users sign in as before")
