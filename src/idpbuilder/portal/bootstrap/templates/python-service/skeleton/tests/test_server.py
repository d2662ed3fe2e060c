"""Unit tests of ${{ values.name }}: a real server on a free port, standard library only."""

from __future__ import annotations

import json
import threading
import unittest
from urllib.error import HTTPError
from urllib.request import urlopen

from app.server import SERVICE_NAME, make_server


class ServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = make_server("127.0.0.1", 0)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join(timeout=5)

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urlopen(self.base + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except HTTPError as error:
            return error.code, json.loads(error.read())

    def test_healthz(self) -> None:
        self.assertEqual(self.get("/healthz"), (200, {"status": "ok"}))

    def test_root_describes_the_service(self) -> None:
        status, body = self.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(body["service"], SERVICE_NAME)
        self.assertIn(SERVICE_NAME, body["message"])

    def test_unknown_paths_are_404(self) -> None:
        status, body = self.get("/nope?x=1")
        self.assertEqual(status, 404)
        self.assertEqual(body, {"error": "not found", "path": "/nope"})


if __name__ == "__main__":
    unittest.main()
