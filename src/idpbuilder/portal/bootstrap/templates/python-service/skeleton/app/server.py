"""HTTP entry point of ${{ values.name }}: `GET /` describes the service, `GET /healthz` reports health.

Standard library only. Run it with `python -m app.server`; the port comes from `PORT` (default
${{ values.port }}). SIGTERM stops it gracefully, as Kubernetes expects.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SETTINGS: dict[str, Any] = json.loads(Path(__file__).with_name("service.json").read_text(encoding="utf-8"))
SERVICE_NAME: str = SETTINGS["name"]
DESCRIPTION: str = SETTINGS["description"]
DEFAULT_PORT: int = SETTINGS["port"]

log = logging.getLogger(SERVICE_NAME)


def describe() -> dict[str, Any]:
    return {"service": SERVICE_NAME, "description": DESCRIPTION, "message": f"Hello from {SERVICE_NAME}"}


class Handler(BaseHTTPRequestHandler):
    server_version = SERVICE_NAME

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        path = urlsplit(self.path).path
        if path == "/healthz":
            self.send_json(HTTPStatus.OK, {"status": "ok"})
        elif path == "/":
            self.send_json(HTTPStatus.OK, describe())
        else:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not found", "path": path})

    def send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the signature http.server uses
        log.info("%s %s", self.address_string(), format % args)


def make_server(host: str = "0.0.0.0", port: int = DEFAULT_PORT) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = make_server(port=int(os.environ.get("PORT", DEFAULT_PORT)))

    def stop(signum: int, _frame: object) -> None:
        log.info("received signal %s, shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("listening on port %s", server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()
    log.info("stopped")


if __name__ == "__main__":
    main()
