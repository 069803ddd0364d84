"""A real OpenAI-compatible HTTP server on 127.0.0.1 that answers with canned completions."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (the user prompt with its numbered passages) -> (HTTP status, completion text or raw body)
Responder = Callable[[str], tuple[int, str]]


def passage_number(prompt: str, needle: str) -> int | None:
    """The number of the passage in the prompt whose text holds `needle`."""
    for m in re.finditer(r"^\[(\d+)\] .*?(?=^\[\d+\] |\Z)", prompt, flags=re.M | re.S):
        if needle in m.group(0):
            return int(m.group(1))
    return None


class FakeLLM:
    """Serves /v1/chat/completions; `responder` decides each reply; requests are recorded.

    `delay` waits before answering; `trickle` sends the response a byte at a time, that many
    seconds apart (a server that is slow but never silent long enough for a read timeout).
    `headers` holds each request's headers, names in lower case.
    """

    def __init__(self) -> None:
        self.responder: Responder = lambda prompt: (200, "")
        self.delay = 0.0
        self.trickle = 0.0
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.hung_up = 0  # responses the client stopped reading (it timed out and closed)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                prompt = "\n".join(str(m.get("content", "")) for m in body["messages"])
                if fake.delay:
                    time.sleep(fake.delay)
                status, text = fake.responder(prompt)
                if status != 200:
                    payload = json.dumps({"error": {"message": text, "type": "server_error"}})
                else:
                    payload = json.dumps(
                        {
                            "id": "chatcmpl-test",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": body.get("model", "fake"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": 1,
                                "completion_tokens": 1,
                                "total_tokens": 2,
                            },
                        }
                    )
                data = payload.encode()
                try:
                    if fake.trickle:
                        self._trickle(status, data)
                        return
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    fake.hung_up += 1

            def _trickle(self, status: int, data: bytes) -> None:
                head = (
                    f"HTTP/1.0 {status} X\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n\r\n"
                )
                response = head.encode() + data
                for i in range(len(response)):
                    self.wfile.write(response[i : i + 1])
                    self.wfile.flush()
                    time.sleep(fake.trickle)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
