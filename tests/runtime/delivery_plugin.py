"""Fixtures of delivery tests (``pytest_plugins = ["tests.runtime.delivery_plugin"]``):
``hook_server``, a started :class:`~tests.runtime.delivery_helpers.HookServer`, and
``fast_timeouts``, short webhook timeouts."""

from __future__ import annotations

import pytest

from tests.runtime.delivery_helpers import HookServer


@pytest.fixture
def hook_server():
    server = HookServer().start()
    yield server
    server.stop()


@pytest.fixture
def fast_timeouts(settings):
    """A short timeout so failing attempts do not slow the suite."""
    settings.DAJIAN = {
        **settings.DAJIAN,
        "WEBHOOK_TIMEOUT_SECONDS": 0.5,
    }
    return settings.DAJIAN
