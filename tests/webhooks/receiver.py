"""A real webhook receiver on loopback: it verifies every message with the `standardwebhooks`
package (signature, timestamp, the id it has seen) as a customer's system would."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.ports import free_port


@dataclass
class Receiver:
    port: int
    secret: str = ""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    status: int = 204  # what it answers a verified message with
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/registry"

    def check(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            self.rejected.append(str(exc))
            return 401
        msg_id = headers["webhook-id"]
        if msg_id in self.seen:
            self.rejected.append(f"replayed {msg_id}")
            return 200  # already handled: acknowledged, not handled again
        if self.status < 300:
            self.seen.add(msg_id)
            self.accepted.append({"id": msg_id, **payload})
        return self.status

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver.check(body, headers)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps({"status": status}).encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@contextmanager
def receiver() -> Iterator[Receiver]:
    box = Receiver(port=free_port())
    box.start()
    try:
        yield box
    finally:
        box.stop()
