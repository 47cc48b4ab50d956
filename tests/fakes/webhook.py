"""A webhook on loopback that Apprise's ``json://`` posts to: every post kept as received
(path, headers, JSON body), and a switch to take it down (the port refuses connections) and
bring it back up on the same port."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Post:
    """One notification as the webhook received it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def title(self) -> str:
        return str(self.body["title"])

    @property
    def message(self) -> str:
        return str(self.body["message"])


class Webhook:
    """An HTTP server on 127.0.0.1 that answers every POST with 200 and keeps it."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def url(self, path: str = "/hook") -> str:
        """The Apprise URL that posts here."""
        return f"json://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        """Listen (again, on the same port once it has had one)."""
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                posts.append(Post(self.path, {k.lower(): v for k, v in self.headers.items()},
                                  body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        """Stop listening: connections to the port are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def titles(self) -> list[str]:
        """The titles received, in order."""
        return [post.title for post in self.posts]
