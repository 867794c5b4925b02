"""A real HTTP server on 127.0.0.1 for delivery tests: it records every request and
answers with the replies a test queues (status, body, headers, delay). Its fixtures are
in :mod:`tests.runtime.delivery_plugin`."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from dajian.runtime.models import WebhookSettings


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class HookServer:
    """Start with :meth:`start`; ``replies`` are used in order, then ``default``."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> HookServer:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                hook.requests.append(
                    Received(self.command, parts.path, parts.query, dict(self.headers), body)
                )
                reply = hook.replies.popleft() if hook.replies else hook.default
                time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            do_POST = _handle
            do_GET = _handle

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def allow(workspace, *entries: str) -> None:
    """Put ``entries`` (default 127.0.0.1) in the workspace's webhook allow-list."""
    from dajian.runtime.deliveries.signing import webhook_settings

    webhook_settings(workspace)
    WebhookSettings.objects.filter(workspace=workspace).update(
        allowlist=list(entries or ("127.0.0.1",))
    )
