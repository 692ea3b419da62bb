"""A local HTTP server for download tests: serves files held in memory, honours ``Range`` requests, and can be
told to fail (a status for a path, a connection cut off after some bytes, ranges ignored). Nothing leaves the
machine; the server runs in a thread for the length of a ``with`` block."""

from __future__ import annotations

import http.server
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Archives:
    """What the server serves and how it misbehaves; the handler reads it and records each request."""

    files: dict[str, bytes] = field(default_factory=dict)
    """Body by URL path without the leading slash (the query is ignored)."""
    status: dict[str, int] = field(default_factory=dict)
    """A path answered with this error status instead of its body."""
    cut: dict[str, int] = field(default_factory=dict)
    """A path whose next response stops after this many body bytes (then the entry is removed)."""
    ignore_ranges: bool = False
    """Answer 200 with the whole body even when a range is asked for."""
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    """(path, Range header or None) of each request, in order."""
    url: str = ""
    """The server's base URL, set when it starts."""


def make_zip(members: dict[str, bytes]) -> bytes:
    """A zip archive holding ``members`` (name -> bytes), stored uncompressed so byte offsets are predictable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _handler(state: Archives) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].lstrip("/")
            asked = self.headers.get("Range")
            state.requests.append((path, asked))
            if path in state.status:
                self.send_error(state.status[path])
                return
            body = state.files.get(path)
            if body is None:
                self.send_error(404)
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", asked or "")
            if match and not state.ignore_ranges:
                start = int(match.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            rest = body[start:]
            self.send_header("Content-Length", str(len(rest)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            if path in state.cut:
                rest = rest[: state.cut.pop(path)]
                self.close_connection = True
            self.wfile.write(rest)
            self.wfile.flush()

    return Handler


@contextmanager
def serve(state: Archives) -> Iterator[Archives]:
    """Serve ``state`` on a free port of 127.0.0.1 until the block ends; ``state.url`` is its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
