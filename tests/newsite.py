"""A news site of our own on 127.0.0.1: the pages under tests/data/site, and pages that misbehave.

Text files are served with `http://news.test` replaced by the server's own origin, so feeds and
canonical links point back at it. Static files carry an ETag and Last-Modified and answer a
matching conditional request with 304. Every request is logged (path and headers).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent / "data" / "site"
LAST_MODIFIED = "Sun, 22 Nov 2026 20:00:00 GMT"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".pdf": "application/pdf",
}
HUGE_BYTES = 20 * 1024 * 1024


class NewsSite(ThreadingHTTPServer):
    """The server; `overrides` replace a path's text, `log` lists (path, headers) requested.

    `replies` answer a path with (status, headers, body) exactly as given (a redirect, a
    compressed body); `host` may be another loopback address, standing for another host.
    """

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.replies: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.stop = threading.Event()
        self.log: list[tuple[str, dict[str, str]]] = []
        self.overrides: dict[str, str] = {}
        self.robots_status = 200  # e.g. 503: robots.txt cannot be read
        self.latency = 0.0  # seconds each static file takes to answer
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def handle_error(self, request, client_address) -> None:
        # a client cut off at its deadline hangs up mid-reply: expected here, not a traceback
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def origin(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.origin + path

    def paths(self) -> list[str]:
        return [path for path, _ in self.log]

    def start(self) -> NewsSite:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: NewsSite
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # quiet test output
        pass

    def do_GET(self) -> None:
        site = self.server
        path = self.path.split("?")[0]
        with site._lock:
            site.log.append((self.path, dict(self.headers)))
            site.in_flight += 1
            site.most_in_flight = max(site.most_in_flight, site.in_flight)
        self._counted = True
        try:
            self._route(path)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as it should on a page that trickles
        finally:
            self._leave()

    def end_headers(self) -> None:
        # out of flight before the client can read the answer and send its next request
        self._leave()
        super().end_headers()

    def _leave(self) -> None:
        if getattr(self, "_counted", False):
            self._counted = False
            with self.server._lock:
                self.server.in_flight -= 1

    def _route(self, path: str) -> None:
        site = self.server
        if path in site.replies:
            status, headers, body = site.replies[path]
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        elif path == "/robots.txt" and site.robots_status != 200:
            self._send(site.robots_status, b"<h1>Unavailable</h1>", "text/html")
        elif path == "/hang":
            site.stop.wait(60)  # accepts, then never answers
        elif path == "/trickle":
            self._trickle()
        elif path == "/huge":
            self._huge()
        elif path == "/broken":
            self._send(500, b"<h1>Internal Server Error</h1>", "text/html")
        elif path == "/gone":
            self._send(410, b"<h1>Gone</h1>", "text/html")
        elif path.startswith("/loop/"):  # /loop/1 -> /loop/2 -> ... for ever
            self.send_response(302)
            self.send_header("Location", f"/loop/{int(path.split('/')[2]) + 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/old/rail-strike":
            self.send_response(301)
            self.send_header("Location", "/news/rail-strike.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._static(path)

    def _static(self, path: str) -> None:
        site = self.server
        site.stop.wait(site.latency)
        file = (SITE_DIR / path.lstrip("/")).resolve()
        if path in site.overrides:
            body = site.overrides[path].encode()
        elif file.is_file() and SITE_DIR in file.parents:
            body = file.read_bytes()
        else:
            self._send(404, b"<h1>Not Found</h1>", "text/html")
            return
        kind = TYPES.get(file.suffix, "application/octet-stream")
        if not kind.startswith("application/pdf"):
            body = body.replace(b"http://news.test", site.origin.encode())
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self._send(200, body, kind, {"ETag": etag, "Last-Modified": LAST_MODIFIED})

    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self) -> None:
        """Headers at once, then a byte every 0.2 s for ever: no read ever times out."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while not self.server.stop.wait(0.2):
            self.wfile.write(b"1\r\nx\r\n")
            self.wfile.flush()

    def _huge(self) -> None:
        """20 MB of paragraphs without a Content-Length: only counting stops it."""
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = b"<p>" + b"filler text " * 700 + b"</p>\n"
        sent = 0
        while sent < HUGE_BYTES and not self.server.stop.is_set():
            self.wfile.write(chunk)
            sent += len(chunk)
        self.close_connection = True


def rss_feed(*paths: str, title: str = "Harbour Gazette: Live") -> str:
    """An RSS 2.0 feed listing pages of the site by path (served as an override)."""
    items = "".join(
        f"<item><title>{p}</title><link>http://news.test{p}</link></item>" for p in paths
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://news.test/</link>{items}</channel></rss>"
    )


# A feed the tests write themselves (`site.overrides[LIVE_FEED] = rss_feed(...)`), two of its
# pages, and a question only the storm page answers.
LIVE_FEED = "/feeds/live.xml"
BRIDGE_PAGE = "/news/harbour-bridge.html"
STORM_PAGE = "/news/storm-warning.html"
STORM_QUESTION = "How strong will the gusts of the storm on the coast be?"
