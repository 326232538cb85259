"""The HTTP API (FastAPI): the same actions as the CLI, for scripts and the web UI."""
