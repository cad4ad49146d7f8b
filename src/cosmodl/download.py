"""HTTP(S) download with a required sha256, retries, resume, and no partial output.

The transfer goes to a hidden ``.<name>.part`` file beside the target. After a dropped
connection the next attempt asks for the remaining bytes (``Range: bytes=N-``) and appends;
a server that ignores ranges (status 200) restarts the file. The finished file is checked
against ``sha256`` and only then renamed to the target. On a final failure the ``.part`` file
is removed, so no partial file is left.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from .errors import DownloadError

log = logging.getLogger(__name__)
CHUNK = 1 << 20


def sha256sum(path: str | os.PathLike) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _transfer(url: str, part: Path, timeout: float) -> None:
    """Append the rest of ``url`` to ``part`` (resuming from its size); raise on any failure."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "cosmodl"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        status = response.status
        if have and status == 200:
            log.info("server ignored the range request; restarting %s", url)
            have = 0
        elif status not in (200, 206):
            raise DownloadError(f"{url}: unexpected HTTP status {status}")
        expected = response.headers.get("Content-Length")
        expected = None if expected is None else int(expected) + have
        with open(part, "ab" if have else "wb") as f:
            while block := response.read(CHUNK):
                f.write(block)
    size = part.stat().st_size
    if expected is not None and size < expected:
        raise ConnectionError(f"transfer ended early at {size} of {expected} bytes")


def download(url: str, target: str | os.PathLike, sha256: str, retries: int = 3, timeout: float = 60.0,
             backoff: float = 1.0) -> Path:
    """Download ``url`` to ``target`` and verify its sha256.

    Parameters
    ----------
    url : str
        http:// or https:// address.
    target : path-like
        Final file; written only when complete and verified.
    sha256 : str
        Expected hex digest (64 characters), required.
    retries : int
        Further attempts after the first one fails (connection errors, 5xx, short transfers).
    timeout : float
        Seconds of socket inactivity before an attempt fails.
    backoff : float
        Seconds before the first retry, doubled each time.

    Raises
    ------
    DownloadError
        Bad URL or checksum, HTTP 4xx, or all attempts failed. Names the URL, and for a
        checksum mismatch both sums.
    """
    target = Path(target)
    sha256 = (sha256 or "").strip().lower()
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"download URL must start with http:// or https://, got {url!r}")
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise DownloadError(f"{url}: a sha256 of 64 hex characters is required, got {sha256!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.part")
    try:
        for attempt in range(retries + 1):
            try:
                _transfer(url, part, timeout)
                break
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 416:
                    raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
                failure = exc
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                failure = exc
            if attempt == retries:
                raise DownloadError(f"{url}: failed after {retries + 1} attempt(s): {failure}") from failure
            log.warning("attempt %d for %s failed (%s); retrying", attempt + 1, url, failure)
            time.sleep(backoff * 2**attempt)
        actual = sha256sum(part)
        if actual != sha256:
            raise DownloadError(f"{url}: checksum mismatch: expected sha256 {sha256}, got {actual}")
        os.replace(part, target)
    finally:
        if part.exists():
            part.unlink()
    log.info("downloaded %s -> %s (sha256 ok)", url, target)
    return target
