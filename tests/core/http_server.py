"""A small HTTP server on 127.0.0.1 for URL tests: photos, errors, slowness, loops."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve(routes: dict[str, tuple[int, str, bytes]], *, slow_seconds: float = 3.0) -> Iterator[str]:
    """Serve ``routes`` (path -> status, content type, body); yields the base URL.

    Special paths: ``/slow`` waits ``slow_seconds`` before answering, ``/loop``
    redirects to itself, ``/redirect`` goes to ``/photo.jpg``, ``/stream-huge``
    streams 8 MB without a Content-Length.
    """

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/slow":
                time.sleep(slow_seconds)
            if self.path in ("/loop", "/redirect"):
                self.send_response(302)
                self.send_header("Location", "/loop" if self.path == "/loop" else "/photo.jpg")
                self.end_headers()
                return
            if self.path == "/stream-huge":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                try:
                    self.wfile.write(b"\xff\xd8\xff\xe0")
                    for _ in range(128):
                        self.wfile.write(b"\0" * 65536)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                return
            status, ctype, body = routes.get(self.path, (404, "text/plain", b"not found"))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
