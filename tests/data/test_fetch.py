"""The resumable, checksummed download against a local HTTP server (tests never use the internet)."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from saliency_core.data.fetch import Resource, download

PAYLOAD = bytes(range(256)) * 800  # 204,800 bytes


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    ranges: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        header = self.headers.get("Range")
        start = 0
        if header:
            _RangeHandler.ranges.append(header)
            start = int(header.removeprefix("bytes=").split("-")[0])
        body = PAYLOAD[start:]
        self.send_response(206 if header else 200)
        self.send_header("Content-Length", str(len(body)))
        if header:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _RangeHandler.ranges = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()
    httpd.server_close()


def _resource(url: str, **overrides: object) -> Resource:
    fields = {"url": url, "filename": "file.bin", "md5": hashlib.md5(PAYLOAD).hexdigest(),
              "sha256": hashlib.sha256(PAYLOAD).hexdigest(), "size": len(PAYLOAD)}
    fields.update(overrides)
    return Resource(**fields)  # type: ignore[arg-type]


def test_full_download(server: str, tmp_path: Path) -> None:
    path = download(_resource(server), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD and _RangeHandler.ranges == []
    download(_resource(server), tmp_path, progress=False)  # already there: verified, not fetched


def test_resumes_a_partial_file(server: str, tmp_path: Path) -> None:
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:50_000])
    path = download(_resource(server), tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert _RangeHandler.ranges == ["bytes=50000-"]
    assert not (tmp_path / "file.bin.part").exists()


def test_checksum_mismatch_is_a_value_error_and_drops_the_part(server: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        download(_resource(server, sha256="0" * 64), tmp_path, progress=False)
    assert not (tmp_path / "file.bin.part").exists() and not (tmp_path / "file.bin").exists()
    with pytest.raises(ValueError, match="size"):
        download(_resource(server, size=5), tmp_path, progress=False)
