"""Fixtures the page tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from ats.api.app import create_api
from ats.service.app import App


@pytest.fixture
def browser(app: App) -> Iterator[Callable[[], TestClient]]:
    """Fresh browsers (own cookie jars) on one web app; redirects are not followed."""
    api = create_api(app)
    opened: list[TestClient] = []

    def open_browser() -> TestClient:
        opened.append(TestClient(api, follow_redirects=False))
        return opened[-1]

    yield open_browser
    for client in opened:
        client.close()
