"""Fetching dataset files: the cache folder, checksums, and downloads that never leave half a file.

A download streams into a temporary ``<name>.<random>.part`` beside its destination, checks the
length the server announced and the checksum of what arrived, and only then renames it over the
destination (an atomic rename). A cut connection or a wrong checksum deletes the part file and
leaves any earlier file where it was.

The cache folder is ``$STRIDED_HOME`` when that variable is set, else ``~/.cache/strided``.
"""

import hashlib
import os
import tempfile
from http.client import HTTPException
from pathlib import Path
from urllib.request import urlopen

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30
HOME_VARIABLE = "STRIDED_HOME"


class DownloadError(OSError):
    """A download that failed (unreachable, cut short, or with the wrong checksum); the message says what to do."""


def cache_dir() -> Path:
    """Where datasets are downloaded: ``$STRIDED_HOME`` if set, else ``~/.cache/strided``."""
    home = os.environ.get(HOME_VARIABLE)
    return Path(home).expanduser() if home else Path.home() / ".cache" / "strided"


def file_digest(path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _split_checksum(checksum: str) -> tuple:
    algorithm, _, expected = checksum.partition(":")
    if not expected or algorithm not in ("md5", "sha1", "sha256"):
        raise ValueError(f"checksum must look like 'sha256:<hex>' or 'md5:<hex>', got {checksum!r}")
    return algorithm, expected.lower()


def check_integrity(path, checksum: str | None) -> bool:
    """True when ``path`` exists and (if a checksum like 'md5:...' or 'sha256:...' is given) matches it."""
    path = Path(path)
    if not path.is_file():
        return False
    if checksum is None:
        return True
    algorithm, expected = _split_checksum(checksum)
    return file_digest(path, algorithm) == expected


def _progress_bar(total, name, enabled):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=name, leave=False)


def _fetch(url: str, part: Path, name: str, progress: bool, timeout: float) -> None:
    """Stream ``url`` into ``part``; raise DownloadError if fewer bytes arrive than announced."""
    with urlopen(url, timeout=timeout) as response, open(part, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = _progress_bar(total, name, progress)
        received = 0
        try:
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    if total is not None and received != total:
        raise DownloadError(f"{url}: transfer interrupted after {received} of {total} bytes")


def download_url(urls, path, checksum: str | None = None, progress: bool = True, force: bool = False,
                 timeout: float = TIMEOUT_S) -> Path:
    """Download to ``path`` from the first of ``urls`` (a URL or a list of mirrors) that gives a good file.

    Skipped when ``path`` already exists and matches ``checksum`` (unless ``force``). Raises
    DownloadError listing each mirror's failure and saying where to place the file by hand.
    """
    path = Path(path)
    urls = [urls] if isinstance(urls, str) else list(urls)
    if not force and path.is_file() and check_integrity(path, checksum):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
        os.close(fd)
        part = Path(name)
        try:
            _fetch(url, part, path.name, progress, timeout)
            if checksum is not None and not check_integrity(part, checksum):
                algorithm, expected = _split_checksum(checksum)
                raise DownloadError(f"{url}: checksum mismatch: expected {algorithm} {expected}, "
                                    f"got {file_digest(part, algorithm)}; the file was not kept")
            os.replace(part, path)
            return path
        except (OSError, ValueError, HTTPException) as error:  # URLError is an OSError; ValueError: bad URL
            failures.append(f"{url}: {getattr(error, 'reason', None) or error or type(error).__name__}")
        finally:
            part.unlink(missing_ok=True)
    raise DownloadError(f"could not download {path.name} ({'; '.join(failures)}). Without a network, "
                        f"place the file at {path} by hand (from {urls[0]})")
