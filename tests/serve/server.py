"""uvicorn serving an app in a thread on a free loopback port, and a client for it."""

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import uvicorn

SAVED = Path(__file__).parent.parent / "fixtures" / "saved_runs"


class Server:
    """uvicorn in a thread, on a port the OS picked."""

    def __init__(self, app):
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                break
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def call(self, path, body=None, method=None, headers=None, raw=None):
        """(status, headers, body parsed as JSON, or the text of an event stream)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.url + path, data, method=method or ("POST" if data is not None else "GET"),
                                         headers={"content-type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, headers, text = response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            status, headers, text = error.code, dict(error.headers), error.read().decode()
        if headers.get("content-type", "").startswith("text/event-stream"):
            return status, headers, text
        return status, headers, json.loads(text)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)
