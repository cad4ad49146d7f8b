"""Downloads against a loopback HTTP server (no other network)."""

import hashlib
import http.server
import threading

import pytest

from cosmodl.download import download
from cosmodl.errors import DownloadError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    drop_first = False  # first GET sends half the body and closes the connection
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append((self.path, self.headers.get("Range")))
        if self.path != "/gal_list":
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).drop_first:
            type(self).drop_first = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.requests = []
    Handler.drop_first = False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_good_download(server, tmp_path):
    target = download(f"{server}/gal_list", tmp_path / "gal_list", SHA, backoff=0)
    assert target.read_bytes() == PAYLOAD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gal_list"]


def test_checksum_mismatch_names_both_sums_and_leaves_nothing(server, tmp_path):
    wrong = "0" * 64
    with pytest.raises(DownloadError) as info:
        download(f"{server}/gal_list", tmp_path / "gal_list", wrong, backoff=0)
    assert wrong in str(info.value) and SHA in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_transfer_is_resumed(server, tmp_path):
    Handler.drop_first = True
    target = download(f"{server}/gal_list", tmp_path / "gal_list", SHA, retries=2, backoff=0)
    assert target.read_bytes() == PAYLOAD
    assert Handler.requests[0] == ("/gal_list", None)
    assert Handler.requests[1] == ("/gal_list", f"bytes={len(PAYLOAD) // 2}-")


def test_http_404_fails_at_once_without_partial_file(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server}/missing", tmp_path / "x", SHA, retries=3, backoff=0)
    assert len(Handler.requests) == 1
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_and_bad_arguments(tmp_path):
    with pytest.raises(DownloadError, match="failed after 2 attempt"):
        download("http://127.0.0.1:9/x", tmp_path / "x", SHA, retries=1, timeout=2, backoff=0)
    with pytest.raises(DownloadError, match="sha256 of 64 hex"):
        download("http://127.0.0.1:9/x", tmp_path / "x", "abc")
    with pytest.raises(DownloadError, match="http:// or https://"):
        download("ftp://example.org/x", tmp_path / "x", SHA)
    assert list(tmp_path.iterdir()) == []
