"""Resumable, verified downloads against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import threading
import zipfile

import pytest

from fma_fixture import DEFAULT_TRACKS, make_fma_fixture, make_zip
from mir.datasets import download as dl
from mir.datasets import fma
from mir.datasets.download import DownloadError, download, download_fma, safe_extract, sha1_file

PAYLOAD = bytes(range(256)) * 1200 + b"tail"  # 307,204 bytes
PAYLOAD_SHA1 = hashlib.sha1(PAYLOAD).hexdigest()


class FileServer:
    """Serves ``files`` (url path → bytes) with Range support, recording every request.

    Fault modes (set ``mode``): ``"cut"`` — the first request only gets ``cut_after`` bytes, then the
    connection closes; ``"cut_always"`` — every request is cut so; ``"norange"`` — ignore ``Range`` (always 200);
    ``"corrupt"`` — one byte in the middle is flipped.
    """

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.mode: str | None = None
        self.cut_after = 100_000
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                with server.lock:
                    server.requests.append((self.path, dict(self.headers.items())))
                    first = len(server.requests) == 1
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                if server.mode == "corrupt":
                    mid = len(data) // 2
                    data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
                start = 0
                rng = self.headers.get("Range")
                if rng and server.mode != "norange":
                    m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
                    assert m, rng
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if server.mode == "cut_always" or (server.mode == "cut" and first):
                    body = body[: server.cut_after]
                    self.close_connection = True
                self.wfile.write(body)
                self.wfile.flush()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)

    def ranges(self) -> list[str | None]:
        return [h.get("Range") for _, h in self.requests]


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    monkeypatch.setattr(dl, "BACKOFF_S", 0.0)


@pytest.fixture
def server():
    s = FileServer({"/data.bin": PAYLOAD})
    s.thread.start()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_sha1_file(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(PAYLOAD)
    assert sha1_file(p) == PAYLOAD_SHA1


def test_full_download_with_sha1(server, tmp_path):
    dest = tmp_path / "sub" / "data.bin"
    out = download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1.upper(), progress=False, chunk_size=4096)
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert not dest.with_name("data.bin.part").exists()
    assert server.ranges() == [None]


def test_cut_transfer_resumes_with_range(server, tmp_path):
    server.mode = "cut"
    dest = tmp_path / "data.bin"
    download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=True, chunk_size=8192)  # with a bar
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges() == [None, f"bytes={server.cut_after}-"]
    assert not (tmp_path / "data.bin.part").exists()


def test_resume_a_part_left_by_an_earlier_run(server, tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:12345])
    download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges() == ["bytes=12345-"]


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.mode = "norange"
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD[:5000])
    download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD  # not 5000 bytes too many
    assert server.ranges() == ["bytes=5000-"]


def test_complete_part_and_416_is_done(server, tmp_path):
    dest = tmp_path / "data.bin"
    (tmp_path / "data.bin.part").write_bytes(PAYLOAD)
    download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges() == [f"bytes={len(PAYLOAD)}-"]


def test_corrupted_download_raises_and_cleans_up(server, tmp_path):
    server.mode = "corrupt"
    dest = tmp_path / "data.bin"
    with pytest.raises(DownloadError, match="sha1 mismatch") as err:
        download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=False)
    assert PAYLOAD_SHA1 in str(err.value) and "\n" not in str(err.value)
    assert not dest.exists()
    assert not (tmp_path / "data.bin.part").exists()
    # the next run starts clean (no Range) and succeeds once the server is healthy
    server.mode = None
    download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD and server.ranges() == [None, None]


def test_existing_good_dest_makes_no_request(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.write_bytes(PAYLOAD)
    assert download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=False) == dest
    assert server.requests == []


def test_existing_bad_dest_is_replaced(server, tmp_path):
    dest = tmp_path / "data.bin"
    dest.write_bytes(b"stale")
    download(server.url + "data.bin", dest, sha1=PAYLOAD_SHA1, progress=False)
    assert dest.read_bytes() == PAYLOAD and len(server.requests) == 1


def test_http_404_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match="404"):
        download(server.url + "nope.bin", tmp_path / "nope.bin", progress=False, retries=5)
    assert len(server.requests) == 1


def test_gives_up_after_retries_without_progress(server, tmp_path):
    server.mode, server.cut_after = "cut_always", 0
    with pytest.raises(DownloadError, match="giving up after 2 retries"):
        download(server.url + "data.bin", tmp_path / "data.bin", progress=False, retries=2)
    assert len(server.requests) == 3


def test_connection_refused_raises_download_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError, match="giving up"):
        download(f"http://127.0.0.1:{port}/x", tmp_path / "x", progress=False, retries=1, timeout=2)


# -- safe_extract -----------------------------------------------------------------------------------------------


def test_safe_extract(tmp_path):
    zpath = tmp_path / "ok.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("top/", "")
        zf.writestr("top/a.txt", "A")
        zf.writestr("top/sub/b.txt", "B")
    out = tmp_path / "out"
    assert safe_extract(zpath, out) == ["top/a.txt", "top/sub/b.txt"]
    assert (out / "top" / "sub" / "b.txt").read_text() == "B"
    assert not [p for p in out.rglob(".*")]  # no temporary files left


@pytest.mark.parametrize("evil", ["../evil", "top/../../evil", "/abs/evil", "C:/evil", "..\\evil"])
def test_safe_extract_rejects_zip_slip(tmp_path, evil):
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("top/fine.txt", "fine")
        zf.writestr(evil, "pwned")
    out = tmp_path / "a" / "out"
    with pytest.raises(DownloadError, match="unsafe archive member"):
        safe_extract(zpath, out)
    assert not (tmp_path / "a" / "evil").exists() and not (tmp_path / "evil").exists()
    assert not (out / "top" / "fine.txt").exists()  # checked before anything is written


def test_safe_extract_corrupt_archive(tmp_path):
    zpath = tmp_path / "bad.zip"
    zpath.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DownloadError, match="not a readable zip"):
        safe_extract(zpath, tmp_path / "out")


# -- download_fma ------------------------------------------------------------------------------------------------


@pytest.fixture
def fma_server(tmp_path):
    """Zipped FMA fixture archives served on 127.0.0.1; 000/000005.mp3 is altered after its checksum."""
    src = tmp_path / "src"
    tracks = [t for t in DEFAULT_TRACKS if t["track_id"] in (2, 5, 140, 182, 1482, 2010, 99134, 3000)]
    fx = make_fma_fixture(src, tracks=tracks)
    bad = fx["audio"]["small"][5]
    bad.write_bytes(bad.read_bytes() + b"\x00junk")
    zips = {}
    for name in ("fma_metadata", "fma_small"):
        zpath, sha = make_zip(src, name, tmp_path / "zips")
        zips[name] = (zpath.read_bytes(), sha)
    s = FileServer({f"/fma/{n}.zip": data for n, (data, _) in zips.items()})
    s.thread.start()
    s.sha1 = {"metadata": zips["fma_metadata"][1], "small": zips["fma_small"][1]}
    s.fx = fx
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_download_fma_end_to_end(fma_server, tmp_path, capsys):
    root = tmp_path / "data" / "fma"
    fma_server.mode = "cut"  # the first archive's (fma_metadata.zip) transfer is cut and resumed
    fma_server.cut_after = len(fma_server.files["/fma/fma_metadata.zip"]) // 2
    summary = download_fma(root, subset="small", base_url=fma_server.url + "fma", archive_sha1=fma_server.sha1,
                           progress=False)
    assert [p for p, _ in fma_server.requests] == ["/fma/fma_metadata.zip"] * 2 + ["/fma/fma_small.zip"]
    assert fma_server.ranges() == [None, f"bytes={fma_server.cut_after}-", None]
    assert summary["subset"] == "small" and summary["verified"] is True
    assert summary["n_audio"] == len(fma_server.fx["audio"]["small"]) == 7
    assert {k: v["status"] for k, v in summary["archives"].items()} == {"metadata": "downloaded",
                                                                        "small": "downloaded"}
    assert summary["archives"]["small"]["url"] == fma_server.url + "fma/fma_small.zip"
    assert len(summary["checksum_failures"]) == 1
    rel, reason = summary["checksum_failures"][0]
    assert rel == "000/000005.mp3" and "sha1 mismatch" in reason
    assert "000/000005.mp3" in capsys.readouterr().err
    assert (root / "fma_small.zip").is_file() and not list(root.glob("*.part"))
    assert (root / ".fma_small.extracted").read_text().strip() == fma_server.sha1["small"]
    assert (root / ".fma_metadata.extracted").read_text().strip() == fma_server.sha1["metadata"]

    # the loader works on what was downloaded
    clips = fma.list_clips(root)
    assert len(clips) == 7 and all(c.path.is_file() for c in clips)

    # a second run neither downloads nor extracts again, and still reports the bad file
    n = len(fma_server.requests)
    again = download_fma(root, base_url=fma_server.url + "fma/", archive_sha1=fma_server.sha1, progress=False)
    assert len(fma_server.requests) == n
    assert {v["status"] for v in again["archives"].values()} == {"already extracted"}
    assert again["checksum_failures"] == summary["checksum_failures"]


def test_download_fma_zip_present_is_not_refetched(fma_server, tmp_path):
    root = tmp_path / "fma"
    download_fma(root, base_url=fma_server.url + "fma", archive_sha1=fma_server.sha1, progress=False,
                 extract=False)
    assert len(fma_server.requests) == 2 and not (root / "fma_small").exists()
    summary = download_fma(root, base_url=fma_server.url + "fma", archive_sha1=fma_server.sha1, progress=False)
    assert len(fma_server.requests) == 2
    assert {v["status"] for v in summary["archives"].values()} == {"present"}
    assert summary["n_audio"] == 7


def test_download_fma_bad_archive_sha1_raises(fma_server, tmp_path):
    root = tmp_path / "fma"
    sha1 = dict(fma_server.sha1, small="0" * 40)
    with pytest.raises(DownloadError, match="fma_small.zip: sha1 mismatch"):
        download_fma(root, base_url=fma_server.url + "fma", archive_sha1=sha1, progress=False)
    assert not (root / "fma_small.zip").exists() and not (root / "fma_small.zip.part").exists()
    assert not (root / "fma_small").exists()
    assert (root / "fma_metadata" / "tracks.csv").is_file()  # the good archive was kept and extracted


def test_download_fma_published_sha1s_by_default(fma_server, tmp_path):
    # Without an override the published SHA-1 is expected: the fixture archive can't match it.
    with pytest.raises(DownloadError, match=fma.ARCHIVES["metadata"][1]):
        download_fma(tmp_path / "fma", base_url=fma_server.url + "fma", progress=False)
    with pytest.raises(ValueError, match="subset"):
        download_fma(tmp_path / "fma", subset="tiny")


def test_cli_download_reports_a_bad_archive_in_one_line(fma_server, tmp_path):
    """`mir data download fma` checks the published SHA-1: a fixture archive can't match it → exit 1, one line."""
    import subprocess
    import sys

    from conftest import ROOT

    r = subprocess.run([sys.executable, "-m", "mir.cli", "--params", str(ROOT / "params.yaml"), "-q", "data",
                        "download", "fma", "--root", str(tmp_path / "fma"), "--base-url", fma_server.url + "fma"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("mir data download:")]
    assert len(lines) == 1 and "sha1" in lines[0].lower()
    assert not (tmp_path / "fma" / "fma_metadata.zip").exists()  # a bad archive is never kept
